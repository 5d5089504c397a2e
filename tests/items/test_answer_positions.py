"""Gold-letter positions: every builtin option set spreads its golds evenly over the letters it
offers, and a set that does not (the understanding set's old fixed order) is caught by name."""

import pytest

from doit_study.core.schema import AnswerKind
from doit_study.items.answer_positions import (
    gold_positions,
    letter_balance,
    position_balance,
    unbalanced_sets,
)
from doit_study.items.sources.builtin.items import BUILDERS, build_builtin_items
from doit_study.items.sources.builtin.material import snapshot_builtin
from tests.helpers import FOUR, make


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    manifest = {"source": "builtin", "materials": snapshot_builtin(raw, seed=0, math_instances=60)}
    return build_builtin_items(raw, manifest, dict.fromkeys(BUILDERS, 400), seed=1)


def test_every_builtin_option_set_has_uniform_gold_positions(built):
    lettered = {name: position_balance(items) for name, items in built.items()}
    lettered = {name: found for name, found in lettered.items() if found is not None}
    assert {"biology", "history", "chinese", "understanding", "reasoning", "ethics"} <= set(lettered)
    for name, found in lettered.items():
        assert found["p_uniform"] > 0.001, (name, found)
        # no letter holds more than half again its share
        assert all(found["observed"][k] < 1.5 * v for k, v in found["expected"].items()), (name, found)


def test_the_understanding_sets_second_question_is_shuffled_too(built):
    second = [gold_positions(item)[1] for item in built["understanding"] if len(gold_positions(item)) == 2]
    assert len(second) > 100
    golds = [gold for _, gold in second]
    assert {"A", "B", "C"} <= set(golds) and max(golds.count(k) for k in "ABC") < 0.5 * len(golds)


def test_a_set_with_its_gold_always_first_fails_by_name():
    items = [make(FOUR, "A", id=str(k)) for k in range(40)]
    balanced = [make(FOUR, "ABCD"[k % 4], id=str(k)) for k in range(40)]
    found = unbalanced_sets({"test": {"stuck": items, "fine": balanced}}, 0.001)
    assert found["failing"] == ["test/stuck"]
    assert found["sets"]["test/stuck"]["observed"] == {"A": 40, "B": 0, "C": 0, "D": 0}
    assert found["sets"]["test/fine"]["p_uniform"] == pytest.approx(1.0)


def test_multi_letter_golds_count_each_letter_against_their_size():
    items = [make(FOUR, "AB", kind=AnswerKind.multi_letter, ability="ethics", id=str(k)) for k in range(20)]
    found = position_balance(items)
    assert found["expected"] == dict.fromkeys("ABCD", 10.0) and found["observed"]["A"] == 20
    assert found["p_uniform"] < 1e-6
    assert (
        position_balance([make("写一首诗。", "好", kind=AnswerKind.open, ability="creative_writing")]) is None
    )


def test_a_released_suites_letters_are_reported_against_uniform():
    found = letter_balance(["A"] * 30 + ["B", "C", "D"] * 10, "ABCD")
    assert found["observed"] == {"A": 30, "B": 10, "C": 10, "D": 10} and found["p_uniform"] < 0.001
