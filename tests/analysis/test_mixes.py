"""The mixes derived from the analysis's data verdicts (floor, cap, scale, baseline), their sizes,
and the Table 3 analogue over paired replicates with t intervals."""

import copy
import math

import pytest

from doit_study.analysis.mixes import ability_rules, derive_mixes, mix_table, plateau
from doit_study.core.schema import ABILITIES

VOLUMES = {40.0: 4, 160.0: 16, 640.0: 64}  # data volume of curated-n<k> -> k
RISING = [0.1, 0.2, 0.4]
T_975_DF2 = 4.302652729911275


def _entry(verdict: str, scores: list[float], label: str = "responsive", score: str = "acc") -> dict:
    data = {"defined": True, "alpha": 0.05, "low": 0.01, "high": 0.09, "verdict": verdict}
    data["curve"] = {"x": list(VOLUMES), "score": scores}
    return {"score": score, "class": label, score: {"data": data, "noise": {"replicates": 0.01}}}


def _sensitivity() -> dict:
    sensitivity = {a: _entry("rises", RISING) for a in ABILITIES}
    sensitivity["creative_writing"] = _entry("rises", [0.2, 0.30, 0.31])  # levels off from 16
    sensitivity["ethics"] = _entry("flat", [0.3, 0.3, 0.3], "resistant")
    sensitivity["role_play"] = _entry("falls", [0.4, 0.3, 0.2], "declining")
    sensitivity["understanding"] = _entry("within noise", [0.2, 0.25, 0.2], "undetermined")
    del sensitivity["chinese"]  # not analysed at all
    return sensitivity


def _rules(sensitivity=None, floor=4, baseline_n=64, tolerance=0.02):
    return ability_rules(sensitivity or _sensitivity(), VOLUMES, floor, baseline_n, tolerance)


def test_plateau_is_the_first_volume_near_the_best_and_none_while_rising():
    assert plateau([4, 16, 64], [0.2, 0.30, 0.31], 0.02) == 16
    assert plateau([4, 16, 64], [0.2, 0.30, 0.35], 0.02) is None
    assert plateau([4, 16, 64], [0.5, 0.3, 0.2], 0.0) == 4  # best at the first volume


def test_each_data_verdict_has_its_rule():
    rules = _rules()
    assert {a: r["rule"] for a, r in rules.items()} == {
        "biology": "scale",
        "history": "scale",
        "code": "scale",
        "creative_writing": "cap",
        "chinese": "baseline",
        "understanding": "baseline",
        "role_play": "floor",
        "reasoning": "scale",
        "math": "scale",
        "ethics": "floor",
    }
    assert rules["ethics"] == {
        "score": "acc",
        "class": "resistant",
        "rule": "floor",
        "n": 4,
        "reason": "data verdict flat (interval [0.01, 0.09])",
    }
    assert rules["role_play"]["n"] == 4 and "falls" in rules["role_play"]["reason"]
    assert (
        rules["creative_writing"]["n"] == 16
        and "from 16 items per ability" in rules["creative_writing"]["reason"]
    )
    assert (
        rules["biology"]["n"] is None
        and rules["biology"]["reason"] == "rises with data (interval [0.01, 0.09])"
    )
    # undecided evidence keeps the Baseline's size and says so; so does a set the analysis lacks
    assert (
        rules["understanding"]["n"] == 64
        and "no evidence either way: data verdict within noise" in (rules["understanding"]["reason"])
    )
    assert rules["chinese"] == {
        "score": "acc",
        "class": "undetermined",
        "rule": "baseline",
        "n": 64,
        "reason": "no evidence either way: data verdict undetermined (interval none); kept at the Baseline",
    }


def test_a_continuous_curve_levels_off_within_its_replicate_noise():
    sensitivity = _sensitivity()
    # nats per byte: rising by more than its replicate noise (0.05) until 16, then within it
    sensitivity["math"] = _entry("rises", [-3.0, -2.5, -2.48], "data-biased", score="continuous")
    sensitivity["math"]["continuous"]["noise"]["replicates"] = 0.05
    rule = _rules(sensitivity)["math"]
    assert (rule["score"], rule["rule"], rule["n"]) == ("continuous", "cap", 16)
    sensitivity["math"]["continuous"]["noise"]["replicates"] = 0.01  # the last step is beyond it
    assert _rules(sensitivity)["math"]["rule"] == "scale"
    sensitivity["math"]["continuous"]["noise"]["replicates"] = None  # no band: no plateau is read
    assert _rules(sensitivity)["math"]["rule"] == "scale"


def test_reconstruct_keeps_the_baseline_total_and_maximum_fills_the_pools():
    rules = _rules()
    available = dict.fromkeys(ABILITIES, 1000) | {"math": 50}
    mixes = derive_mixes(rules, baseline_total=640, available=available, maximum_per_ability=None)
    reconstruct, maximum = mixes["reconstruct"], mixes["maximum"]
    assert sum(reconstruct.values()) == 640
    fixed = {"ethics": 4, "role_play": 4, "creative_writing": 16, "understanding": 64, "chinese": 64}
    assert {a: reconstruct[a] for a in fixed} == fixed
    # 640 - 152 = 488 for the five scaled abilities; math's pool holds 50, the other four share 438
    scaled = ["biology", "history", "code", "reasoning"]
    assert reconstruct["math"] == 50 and sorted({reconstruct[a] for a in scaled}) == [109, 110]
    assert {a: maximum[a] for a in fixed} == fixed and maximum["math"] == 50
    assert all(maximum[a] == 1000 for a in scaled)
    capped = derive_mixes(rules, 640, available, maximum_per_ability=256)["maximum"]
    assert all(capped[a] == 256 for a in scaled) and capped["math"] == 50
    below = derive_mixes(rules, 640, available, maximum_per_ability=16)  # a cap under Reconstruct's
    assert all(below["maximum"][a] == below["reconstruct"][a] for a in scaled)


def test_fixed_sizes_never_exceed_a_pool_and_never_go_negative():
    short = derive_mixes(_rules(floor=64), 640, dict.fromkeys(ABILITIES, 1000) | {"ethics": 10}, None)
    assert short["reconstruct"]["ethics"] == 10 and short["maximum"]["ethics"] == 10
    crowded = derive_mixes(_rules(floor=400), 640, dict.fromkeys(ABILITIES, 1000), None)
    assert min(crowded["reconstruct"].values()) == 0


def _metrics(overall: float, x: float, y: float) -> dict:
    return {
        "train_examples": 640,
        "overall": overall,
        "benchmark.x.0shot.acc": x,
        "benchmark.y.0shot.acc": y,
        "test.math.acc": 0.1,  # not a column of the table
    }


BASELINES = {
    "r0": _metrics(0.30, 0.40, 0.50),
    "r1": _metrics(0.32, 0.42, 0.52),
    "r2": _metrics(0.34, 0.44, 0.54),
}


def test_mix_table_pairs_replicates_and_marks_a_change_only_when_its_interval_excludes_zero():
    reconstruct = {
        # overall: +0.01, +0.03, +0.02 (every replicate gains, yet the interval holds zero)
        # benchmark x: +0.020, +0.021, +0.019; benchmark y: -0.050, -0.049, -0.051
        "r0": _metrics(0.31, 0.420, 0.450),
        "r1": _metrics(0.35, 0.441, 0.471),
        "r2": _metrics(0.36, 0.459, 0.489),
    }
    table = mix_table(BASELINES, {"reconstruct": reconstruct}, 0.95)
    assert table["baseline"] == pytest.approx(
        {
            "train_examples": 640,
            "overall": 0.32,
            "benchmark.x.0shot.acc": 0.42,
            "benchmark.y.0shot.acc": 0.52,
            "replicates": 3,
        }
    )
    row = table["reconstruct"]
    assert row["replicates"] == 3 and row["overall"] == pytest.approx(0.34)
    # overall: mean 0.02, SD 0.01, standard error 0.01 / sqrt(3), t with 2 df
    half = T_975_DF2 * 0.01 / math.sqrt(3)
    assert row["overall.change"] == pytest.approx(0.02)
    assert (row["overall.change_low"], row["overall.change_high"]) == (
        pytest.approx(0.02 - half),
        pytest.approx(0.02 + half),
    )
    assert row["overall.change_beyond_noise"] is False
    assert row["benchmark.x.0shot.acc.change"] == pytest.approx(0.02)
    assert row["benchmark.x.0shot.acc.change_low"] == pytest.approx(0.02 - T_975_DF2 * 0.001 / math.sqrt(3))
    assert row["benchmark.x.0shot.acc.change_beyond_noise"] is True
    assert row["benchmark.y.0shot.acc.change"] == pytest.approx(-0.05)
    assert row["benchmark.y.0shot.acc.change_beyond_noise"] is True
    assert row["benchmark.y.0shot.acc.change_high"] < 0
    assert not any(key.startswith("test.") or key.startswith("train_examples.") for key in row)


def test_one_replicate_gives_a_change_but_no_interval_and_an_unpaired_replicate_is_refused():
    table = mix_table(BASELINES, {"maximum": {"r1": _metrics(0.40, 0.42, 0.52)}}, 0.95)
    row = table["maximum"]
    assert row["overall.change"] == pytest.approx(0.08) and row["replicates"] == 1
    assert not any(key.endswith(("change_low", "change_high", "change_beyond_noise")) for key in row)
    with pytest.raises(KeyError, match="replicate r9 has no Baseline run"):
        mix_table(BASELINES, {"maximum": {"r9": _metrics(0.40, 0.42, 0.52)}}, 0.95)


def test_mix_table_does_not_change_its_inputs():
    baselines = copy.deepcopy(BASELINES)
    mix_table(baselines, {"reconstruct": copy.deepcopy(BASELINES)}, 0.95)
    assert baselines == BASELINES
