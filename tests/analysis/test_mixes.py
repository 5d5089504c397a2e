"""The mixes derived from the analysis: floors, caps, totals, and the Table 3 analogue."""

import pytest

from doit_study.analysis.mixes import ability_rules, derive_mixes, mix_table, plateau
from doit_study.core.schema import ABILITIES

VOLUMES = {40.0: 4, 160.0: 16, 640.0: 64}  # data volume of curated-n<k> -> k


def _entry(label: str, accs: list[float], chance: float = 0.0) -> dict:
    block = {
        "random": chance,
        "data": {"curve": {"x": list(VOLUMES), "score": accs}},
        "noise": {"seeds": 0.01},
    }
    return {"score": "acc", "class": label, "acc": block}


def _sensitivity() -> dict:
    rising = [0.1, 0.2, 0.4]
    sensitivity = {a: _entry("data-biased", rising) for a in ABILITIES}
    sensitivity["ethics"] = _entry("resistant", [0.3, 0.3, 0.31])
    sensitivity["role_play"] = _entry("resistant", [0.2, 0.25, 0.2])
    sensitivity["creative_writing"] = _entry("parameter-biased", [0.2, 0.30, 0.31])  # flat from 16
    return sensitivity


def test_plateau_is_the_first_volume_near_the_best_and_none_while_rising():
    assert plateau([4, 16, 64], [0.2, 0.30, 0.31], 0.02) == 16
    assert plateau([4, 16, 64], [0.2, 0.30, 0.35], 0.02) is None
    assert plateau([4, 16, 64], [0.5, 0.3, 0.2], 0.0) == 4  # falls after the first volume


def test_rules_floor_resistant_cap_plateaued_and_scale_the_rest():
    rules = ability_rules(_sensitivity(), VOLUMES, floor=4, tolerance=0.02)
    assert {a for a, r in rules.items() if r["rule"] == "floor"} == {"ethics", "role_play"}
    assert rules["ethics"]["n"] == 4
    assert rules["creative_writing"]["rule"] == "cap" and rules["creative_writing"]["n"] == 16
    assert all(rules[a]["rule"] == "scale" for a in ("math", "code", "biology"))


def test_a_falling_or_flat_curve_is_no_plateau_but_resistant():
    sensitivity = _sensitivity()
    sensitivity["history"] = _entry("parameter-biased", [0.31, 0.25, 0.22], chance=0.37)  # falls
    sensitivity["biology"] = _entry("data-biased", [0.24, 0.26, 0.25], chance=0.25)  # at chance
    sensitivity["reasoning"] = _entry("data-biased", [0.40, 0.41, 0.39], chance=0.25)  # flat above it
    rules = ability_rules(sensitivity, VOLUMES, floor=4, tolerance=0.02)
    assert rules["history"] == {
        "score": "acc",
        "class": "resistant",
        "analysis_class": "parameter-biased",
        "rule": "floor",
        "n": 4,
        "reason": "data curve flat at chance level 0.370 (0.310 at 4 → 0.220 at 64 items per ability)",
    }
    assert rules["biology"]["rule"] == "floor" and "chance level 0.250" in rules["biology"]["reason"]
    assert rules["reasoning"]["rule"] == "floor" and "does not rise" in rules["reasoning"]["reason"]
    # a curve that falls above chance is no plateau either
    sensitivity["history"] = _entry("parameter-biased", [0.6, 0.5, 0.4], chance=0.25)
    assert ability_rules(sensitivity, VOLUMES, 4, 0.02)["history"]["rule"] == "floor"


def test_an_unclassified_ability_is_scaled_and_says_why():
    sensitivity = _sensitivity()
    sensitivity["math"]["class"] = "undefined"
    del sensitivity["code"]
    rules = ability_rules(sensitivity, VOLUMES, floor=4, tolerance=0.02)
    assert rules["math"] == {
        "score": "acc",
        "class": "undefined",
        "rule": "scale",
        "n": None,
        "reason": "not classified",
    }
    assert rules["code"]["rule"] == "scale" and rules["code"]["class"] == "undefined"


def test_reconstruct_keeps_the_baseline_total_and_maximum_fills_the_pools():
    rules = ability_rules(_sensitivity(), VOLUMES, floor=4, tolerance=0.02)
    available = dict.fromkeys(ABILITIES, 1000) | {"math": 50}
    mixes = derive_mixes(rules, baseline_total=640, available=available, maximum_per_ability=None)
    reconstruct, maximum = mixes["reconstruct"], mixes["maximum"]
    assert sum(reconstruct.values()) == 640
    assert reconstruct["ethics"] == reconstruct["role_play"] == 4 and reconstruct["creative_writing"] == 16
    scaled = [a for a in ABILITIES if a not in ("ethics", "role_play", "creative_writing", "math")]
    # 640 - 24 = 616 for 7 abilities: math (50 items) is short, so the other six share 616 - 50
    assert reconstruct["math"] == 50
    assert sorted({reconstruct[a] for a in scaled}) == [94, 95] and all(reconstruct[a] > 64 for a in scaled)
    assert maximum["ethics"] == 4 and maximum["creative_writing"] == 16 and maximum["math"] == 50
    assert all(maximum[a] == 1000 for a in scaled)
    capped = derive_mixes(rules, 640, available, maximum_per_ability=256)["maximum"]
    assert all(capped[a] == 256 for a in scaled) and capped["math"] == 50
    below = derive_mixes(rules, 640, available, maximum_per_ability=16)  # a cap under Reconstruct's share
    assert all(below["maximum"][a] == below["reconstruct"][a] for a in scaled)


def test_a_floor_larger_than_the_pool_takes_the_whole_pool():
    rules = ability_rules(_sensitivity(), VOLUMES, floor=64, tolerance=0.02)
    available = dict.fromkeys(ABILITIES, 1000) | {"ethics": 10}
    mixes = derive_mixes(rules, 640, available, None)
    assert mixes["reconstruct"]["ethics"] == 10 and mixes["maximum"]["ethics"] == 10


def test_when_floors_and_caps_exceed_the_total_nothing_is_negative():
    rules = ability_rules(_sensitivity(), VOLUMES, floor=400, tolerance=0.02)
    mixes = derive_mixes(rules, 640, dict.fromkeys(ABILITIES, 1000), None)
    assert min(mixes["reconstruct"].values()) == 0


def test_mix_table_reports_each_change_over_the_baseline():
    baseline = {
        "train_examples": 640,
        "overall": 0.25,
        "benchmark.heldout.0shot.acc": 0.24,
        "test.math.acc": 0.1,
    }
    reconstruct = baseline | {"overall": 0.27, "benchmark.heldout.0shot.acc": 0.22}
    table = mix_table(baseline, {"reconstruct": reconstruct})
    assert set(table["baseline"]) == {"train_examples", "overall", "benchmark.heldout.0shot.acc"}
    assert table["reconstruct"]["overall.change"] == pytest.approx(0.02)
    assert table["reconstruct"]["benchmark.heldout.0shot.acc.change"] == pytest.approx(-0.02)
    with pytest.raises(KeyError, match="maximum has no overall"):
        mix_table(baseline, {"maximum": {"train_examples": 9}})


def test_a_continuous_curve_is_read_with_its_seed_noise_and_no_chance_level():
    sensitivity = _sensitivity()
    # nats per byte: no guessing rate; rising by more than its seed noise (0.05) until 16, then flat
    block = {"random": None, "data": {"curve": {"x": list(VOLUMES), "score": [-3.0, -2.5, -2.48]}}}
    sensitivity["math"] = {"score": "continuous", "class": "data-biased", "continuous": block}
    block["noise"] = {"seeds": 0.05}
    rule = ability_rules(sensitivity, VOLUMES, floor=4, tolerance=0.02)["math"]
    assert rule["score"] == "continuous" and rule["rule"] == "cap" and rule["n"] == 16
    block["noise"] = {"seeds": 0.6}  # the whole rise is within noise
    rule = ability_rules(sensitivity, VOLUMES, floor=4, tolerance=0.02)["math"]
    assert rule["rule"] == "floor" and "does not rise" in rule["reason"]


def test_a_data_sensitivity_within_noise_is_floored_whatever_the_curve_looks_like():
    sensitivity = _sensitivity()
    interval = {"defined": True, "low": -0.01, "high": 0.05, "level": 0.95, "excludes_zero": False}
    sensitivity["reasoning"]["acc"]["data"]["interval"] = interval
    rule = ability_rules(sensitivity, VOLUMES, floor=4, tolerance=0.02)["reasoning"]
    assert rule["rule"] == "floor" and rule["analysis_class"] == "data-biased"
    assert rule["reason"] == "data sensitivity within noise: its 95% interval [-0.01, 0.05] includes zero"
    interval |= {"low": 0.01, "excludes_zero": True}  # beyond noise: the curve decides (still rising)
    assert ability_rules(sensitivity, VOLUMES, floor=4, tolerance=0.02)["reasoning"]["rule"] == "scale"
