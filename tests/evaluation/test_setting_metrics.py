"""Checkpoint selection, the overall average and the flat metrics of a setting."""

import pytest

from doit_study.analysis.study_table import study_rows, subset_factors
from doit_study.core.schema import ABILITIES
from doit_study.evaluation.item_scoring import Prediction, summarise
from doit_study.evaluation.selection import in_domain_mean, select_best_epoch
from doit_study.evaluation.setting_metrics import overall, setting_metrics
from tests.helpers import make


def test_best_epoch_is_at_or_after_min_epoch():
    scores = {1: 0.9, 2: 0.3, 3: 0.5, 4: 0.4}
    assert select_best_epoch(scores, min_epoch=1) == 1
    assert select_best_epoch(scores, min_epoch=2) == 3


def test_ties_go_to_the_earlier_epoch_whatever_the_order():
    assert select_best_epoch({7: 0.5, 6: 0.5, 5: 0.2}, min_epoch=5) == 6
    assert select_best_epoch({5: 0.5, 6: 0.5}, min_epoch=5) == 5


def _valid_epoch(correct_per_ability: list[int], per_ability: int = 10):
    """A valid summary with the given number of correct items per ability, items listed in reverse."""
    items, predictions = [], []
    for ability, correct in zip(ABILITIES, correct_per_ability, strict=True):
        for k in range(per_ability):
            items.append(make(f"{ability} question {k}", "A", ability=ability, id=f"{ability}-{k}"))
            predictions.append(Prediction(f"{ability}-{k}", ability, "letter", k < correct, False, "A"))
    return summarise(items[::-1], predictions[::-1])


def test_epochs_with_the_same_correct_counts_in_another_order_tie_exactly():
    # the same 48 correct items, spread over the abilities in another order: a plain sum of the ten
    # accuracies differs in the last digit (4.799999999999999 against 4.8); the scores must not
    first, second = [4, 1, 1, 10, 5, 7, 8, 1, 5, 6], [1, 8, 6, 4, 1, 5, 5, 1, 10, 7]
    assert sum(c / 10 for c in first) != sum(c / 10 for c in second)
    scores = {3: in_domain_mean(_valid_epoch(first)), 2: in_domain_mean(_valid_epoch(second))}
    assert scores[2] == scores[3]
    assert select_best_epoch(scores, min_epoch=1) == 2


def test_no_eligible_checkpoint_is_an_error():
    with pytest.raises(ValueError, match="at or after epoch 5"):
        select_best_epoch({1: 0.1, 2: 0.2}, min_epoch=5)


def _summary(names, acc):
    return {name: {"acc": acc(name), "n": 100, "unparsed": 0, "random": 0.25} for name in names}


def test_overall_is_the_mean_over_in_domain_and_out_of_domain_sets():
    names = [*ABILITIES, "ood_a", "ood_b", "ood_c"]
    summary = _summary(names, lambda name: 1.0 if name.startswith("ood") else 0.35)
    # 10 abilities at 0.35 and 3 out-of-domain sets at 1.0, each counted once (not divided by 2x files)
    assert overall(summary) == pytest.approx((10 * 0.35 + 3 * 1.0) / 13)


def test_setting_metrics_are_flat_and_complete():
    test = _summary([*ABILITIES, "ood_x"], lambda name: 0.5)
    valid = _summary(ABILITIES, lambda name: 0.2 if name == "math" else 0.4)
    metrics = setting_metrics(
        3,
        valid,
        test,
        {"heldout.0shot.acc": 0.3, "heldout.0shot.continuous": 0.27},
        parameters=1000,
        examples=640,
    )
    assert metrics["best_epoch"] == 3 and metrics["overall"] == pytest.approx(0.5)
    assert metrics["valid.score"] == pytest.approx((9 * 0.4 + 0.2) / 10)
    assert metrics["test.ood_x.acc"] == 0.5 and metrics["test.math.random"] == 0.25
    assert (
        metrics["benchmark.heldout.0shot.acc"] == 0.3
        and metrics["benchmark.heldout.0shot.continuous"] == 0.27
    )
    assert all(isinstance(value, int | float) for value in metrics.values())
    assert list(metrics) == sorted(metrics)


def test_study_rows_carry_the_factors_of_the_setting():
    index = {
        "subsets": {
            "curated-n16": {"kind": "uniform", "total": 160, "data_seed": 0},
            "curated-n16-d2": {"kind": "uniform", "total": 160, "data_seed": 2},
        }
    }
    factors = subset_factors("curated-n16", index)
    assert factors == {"pool": "curated", "n_per_ability": 16, "data_volume": 160, "kind": "uniform"} | {
        "data_seed": 0,
        "task_count": None,
        "cot_ratio": None,
        "open_ratio": None,
    }
    redrawn = subset_factors("curated-n16-d2", index)  # another data seed: the same grid point
    assert redrawn == factors | {"data_seed": 2}
    test = _summary(["math", "ood_x"], lambda name: 0.1)
    metrics = setting_metrics(2, _summary(["math"], lambda n: 0.2), test, {}, 99, 160)
    spec = {"foundation": "m", "size": "m", "seed": 1}
    rows = study_rows("m-curated-n16-seed1", spec, factors, metrics)
    pairs = {(r["split"], r["ability"]) for r in rows}
    assert pairs == {("valid", "math"), ("test", "math"), ("test", "ood_x")}
    assert all(r["parameters"] == 99 and r["best_epoch"] == 2 and r["data_volume"] == 160 for r in rows)
    assert all(r["seed"] == 1 and r["size"] == "m" and r["foundation"] == "m" for r in rows)
    assert all(r["data_seed"] == 0 for r in rows)
    assert {r["data_seed"] for r in study_rows("m-curated-n16-d2", spec, redrawn, metrics)} == {2}
