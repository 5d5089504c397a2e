"""Every set's scaling on both scores: the runs' scores, the fits along each axis, the verdicts read
at the false discovery rate, the classes, the guidance's score and the untuned foundations against
chance; end to end on a synthetic study with a known truth per set (tests/analysis/conftest.py)."""

import math

import pandas as pd
import pytest

from doit_study.analysis.item_table import item_frame
from doit_study.analysis.scaling import (
    axis_fit,
    classify,
    features_on_scores,
    foundations_vs_chance,
    guidance_score,
    read_verdicts,
    run_scores,
    verdict,
)
from tests.analysis.synthetic import TRUTHS

FLAT = {"acc": 0.01, "continuous": 0.25}
FLAT_AXES = ("param", "data")


def test_run_scores_are_each_settings_mean_over_the_same_test_items(study):
    grid, items = study
    runs = run_scores(items, grid, "biology", "acc")
    mine = grid[grid["ability"] == "biology"].set_index("setting")
    assert len(runs) == 18 and set(runs["setting"]) == set(mine.index)
    assert runs.set_index("setting")["score"].to_dict() == pytest.approx(mine["acc"].to_dict())
    first = runs.iloc[0]
    assert first["foundation"] == mine.loc[first["setting"], "foundation"]
    assert first["data_volume"] == mine.loc[first["setting"], "data_volume"]


def test_run_scores_refuse_unpaired_items_and_say_why_there_is_no_score(study):
    grid, items = study
    other = items.copy()
    moved = (other["setting"] == "l1-curated-n64") & (other["ability"] == "biology")
    other.loc[moved, "item"] = other.loc[moved, "item"] + "x"
    assert run_scores(other, grid, "biology", "acc") == (
        "l1-curated-n64 scored other biology items than the other settings"
    )
    blank = items.copy()
    blank.loc[blank["ability"] == "biology", "continuous"] = float("nan")
    assert run_scores(blank, grid, "biology", "continuous") == "no continuous scores"
    judged = grid[grid["ability"] == "biology"].assign(ability="judge")
    assert run_scores(items, judged, "judge", "acc") == "no verdict of the judge could be read"


def _runs(slopes: dict[str, float]) -> pd.DataFrame:
    """Three sizes x two foundations x two volumes: 0.1 log N + slope_f log D + a level per foundation
    (+-0.01 around the size's line, so the between-foundation fit has residuals)."""
    rows = []
    for size, parameters in (("s", 100), ("m", 1000), ("l", 10000)):
        for k, sign in ((0, 1), (1, -1)):
            foundation = f"{size}{k}"
            for volume in (10, 100):
                score = 0.1 * math.log(parameters) + slopes[foundation] * math.log(volume) + 0.01 * sign
                rows.append(
                    {
                        "foundation": foundation,
                        "parameters": parameters,
                        "data_volume": volume,
                        "score": score,
                    }
                )
    return pd.DataFrame(rows)


SLOPES = {"s0": 0.04, "s1": 0.06, "m0": 0.05, "m1": 0.05, "l0": 0.06, "l1": 0.04}


def test_axis_fit_reads_size_between_foundations_and_data_within_each():
    runs = _runs(SLOPES)
    param = axis_fit(runs, "param", ["data_volume"], 0.95)
    # foundation means: 0.1 log N + their mean data term; the data slopes' mean is the same at each
    # size, so the slope of the means is 0.1 exactly, around it the +-0.01 levels
    assert param["alpha"] == pytest.approx(0.1) and param["df"] == 4 and param["scale"] == "log"
    assert param["low"] < 0.1 < param["high"] and param["excludes_zero"]
    data = axis_fit(runs, "data", ["data_volume"], 0.95)
    assert data["alpha"] == pytest.approx(0.05) and data["df"] == 5 and data["units"] == 6
    assert data["stderr"] == pytest.approx(math.sqrt(0.0004 / 5) / math.sqrt(6))  # slopes' SD / sqrt(6)
    assert data["curve"]["x"] == [10.0, 100.0]
    mean_level = 0.1 * math.log(100 * 1000 * 10000) / 3
    assert data["curve"]["score"] == pytest.approx([mean_level + 0.05 * math.log(v) for v in (10, 100)])


def test_axis_fit_is_undetermined_for_one_value_or_unbalanced_foundations():
    runs = _runs(SLOPES)
    unbalanced = runs.drop(index=runs.index[-1])
    found = axis_fit(unbalanced, "data", ["data_volume"], 0.95)
    assert found["undetermined"] and "not all trained at the same settings" in found["reason"]
    one_volume = runs[runs["data_volume"] == 10]
    found = axis_fit(one_volume, "data", ["data_volume"], 0.95)
    assert found["undetermined"] and found["reason"] == "one value of data_volume"
    assert found["curve"] == {"x": [10.0], "score": [pytest.approx(one_volume["score"].mean())]}


def test_verdicts_read_the_discovery_the_flat_band_and_otherwise_noise():
    rising = {"defined": True, "alpha": 0.03, "low": 0.001, "high": 0.06, "discovery": True}
    assert verdict(rising, 0.01) == "rises"
    assert verdict(rising | {"alpha": -0.03, "low": -0.06, "high": -0.001}, 0.01) == "falls"
    narrow = {"defined": True, "alpha": 0.001, "low": -0.004, "high": 0.006, "discovery": False}
    assert verdict(narrow, 0.01) == "flat"
    assert verdict(narrow, 0.005) == "within noise"  # the interval reaches past the band
    assert verdict(narrow, None) == "within noise"  # no band: flatness cannot be claimed
    assert verdict({"defined": False, "reason": "one size"}, 0.01) == "undetermined"


def _fit(alpha: float, low: float, high: float, p: float) -> dict:
    return {"defined": True, "alpha": alpha, "low": low, "high": high, "p_value": p}


def _result() -> dict:
    return {
        "a": {
            "acc": {"param": _fit(0.05, 0.03, 0.07, 0.001), "data": _fit(-0.04, -0.06, -0.02, 0.004)},
            "continuous": {
                "noise": {"replicates": 0.002},
                "param": _fit(0.01, 0.005, 0.015, 0.002),
                "data": _fit(0.0001, -0.0004, 0.0006, 0.5),
            },
        },
        "b": {
            "acc": {"param": _fit(0.001, -0.005, 0.007, 0.7), "data": _fit(0.02, 0.001, 0.039, 0.04)},
            "continuous": {
                "noise": {"replicates": None},
                "param": {"defined": False, "reason": "one size"},
                "data": _fit(0.0, -0.01, 0.01, 0.9),
            },
        },
    }


def test_read_verdicts_corrects_over_every_interval_then_reads_each():
    result = _result()
    summary = read_verdicts(result, ["param", "data"], 0.05, FLAT)
    assert summary == {"method": "Benjamini-Hochberg", "fdr": 0.05, "intervals": 7}
    # sorted p: .001 .002 .004 .04 .5 .7 .9 (m = 7); adjusted: .007 .007 .00933 .07 .7 .8167 .9
    assert result["a"]["acc"]["param"]["p_adjusted"] == pytest.approx(0.007)
    assert result["b"]["acc"]["data"]["p_adjusted"] == pytest.approx(0.07)
    verdicts = {
        (n, s, a): result[n][s][a]["verdict"]
        for n in result
        for s in ("acc", "continuous")
        for a in FLAT_AXES
    }
    assert verdicts == {
        ("a", "acc", "param"): "rises",
        ("a", "acc", "data"): "falls",
        ("a", "continuous", "param"): "rises",
        # within +-0.0006 but the band is 0.25 replicate SD = 0.0005 per log unit
        ("a", "continuous", "data"): "within noise",
        ("b", "acc", "param"): "flat",
        # p = 0.04 alone would exclude zero; among seven intervals it is no discovery
        ("b", "acc", "data"): "within noise",
        ("b", "continuous", "param"): "undetermined",
        ("b", "continuous", "data"): "within noise",  # no replicate noise: no band in its units
    }
    assert "p_adjusted" not in result["b"]["continuous"]["param"]


def test_the_continuous_flat_band_is_in_replicate_noise_units():
    result = _result()
    read_verdicts(result, ["param", "data"], 0.05, {"acc": 0.01, "continuous": 0.5})  # 0.001 per log unit
    assert result["a"]["continuous"]["data"]["verdict"] == "flat"
    result["a"]["continuous"]["noise"]["replicates"] = 0.0005  # a quieter set: a narrower band
    read_verdicts(result, ["param", "data"], 0.05, {"acc": 0.01, "continuous": 0.5})
    assert result["a"]["continuous"]["data"]["verdict"] == "within noise"


@pytest.mark.parametrize(
    ("param", "data", "expected"),
    [
        ("rises", "rises", "responsive"),
        ("rises", "flat", "parameter-biased"),
        ("flat", "rises", "data-biased"),
        ("flat", "flat", "resistant"),
        ("falls", "rises", "declining"),
        ("rises", "falls", "declining"),
        ("within noise", "rises", "undetermined"),
        ("flat", "within noise", "undetermined"),
        ("undetermined", "flat", "undetermined"),
    ],
)
def test_classes_come_from_both_verdicts(param, data, expected):
    assert classify({"param": {"verdict": param}, "data": {"verdict": data}}) == expected


def test_the_guidance_reads_the_score_with_the_higher_replicate_snr_and_accuracy_on_a_tie():
    assert guidance_score({"acc": {"snr_replicates": 2.0}, "continuous": {"snr_replicates": 3.0}}) == (
        "continuous"
    )
    assert guidance_score({"acc": {"snr_replicates": 3.0}, "continuous": {"snr_replicates": 3.0}}) == "acc"
    assert guidance_score({"acc": {"snr_replicates": None}, "continuous": {"snr_replicates": None}}) == "acc"
    undefined = {"defined": False, "snr_replicates": 9.0}
    assert guidance_score({"acc": {"snr_replicates": 1.0}, "continuous": undefined}) == "acc"


def _base_items(correct: int, trials: int = 100, ability: str = "biology") -> pd.DataFrame:
    """The untuned foundations s0 and l0, each answering half of `trials`, `correct` right in all."""
    records = {}
    for k, foundation in enumerate(("s0", "l0")):
        half = range(k * trials // 2, (k + 1) * trials // 2)
        records[(f"base-{foundation}", "test", 0)] = [
            {"type": ability, "id": f"q{i:03d}", "correct": i < correct, "continuous": None, "family": None}
            for i in half
        ]
    return item_frame(records)


def _chance_grid(random: float | None = 0.25) -> pd.DataFrame:
    return pd.DataFrame({"foundation": ["s0", "l0"], "ability": ["biology"] * 2, "random": [random] * 2})


def test_untuned_foundations_beyond_chance_are_flagged_and_those_at_chance_are_not():
    beyond = foundations_vs_chance(_base_items(correct=60), _chance_grid(), "biology", 0.001)
    assert beyond["defined"] and beyond["beyond_chance"]
    assert (beyond["correct"], beyond["trials"], beyond["foundations"]) == (60, 100, 2)
    assert beyond["acc"] == 0.6 and beyond["chance"] == 0.25 and beyond["p_value"] < 1e-8
    at_chance = foundations_vs_chance(_base_items(correct=27), _chance_grid(), "biology", 0.001)
    assert at_chance["defined"] and not at_chance["beyond_chance"] and at_chance["p_value"] > 0.1
    # significant at 5% but not at the artefact level: not flagged
    near = foundations_vs_chance(_base_items(correct=34), _chance_grid(), "biology", 0.001)
    assert 0.001 < near["p_value"] < 0.05 and not near["beyond_chance"]


def test_foundations_answering_the_same_items_count_as_items_not_as_answers():
    """Four foundations on the same 10 items, 5 right each time: 40 answers would look like a binomial
    p of 3e-4, but there are 10 independent items (t over items: p about 0.08), so no flag."""
    records = {
        (f"base-f{k}", "test", 0): [
            {"type": "biology", "id": f"q{i}", "correct": i < 5, "continuous": None, "family": None}
            for i in range(10)
        ]
        for k in range(4)
    }
    grid = pd.DataFrame(
        {"foundation": [f"f{k}" for k in range(4)], "ability": ["biology"] * 4, "random": [0.25] * 4}
    )
    found = foundations_vs_chance(item_frame(records), grid, "biology", 0.001)
    assert (found["trials"], found["items"], found["acc"]) == (40, 10, 0.5)
    assert 0.05 < found["p_value"] < 0.1 and not found["beyond_chance"]


def test_foundations_vs_chance_needs_untuned_0_1_answers_and_a_chance_level():
    judged = _base_items(correct=60)
    judged.loc[0, "acc"] = 0.5  # a judge's tie: no binomial outcome
    assert not foundations_vs_chance(judged, _chance_grid(), "biology", 0.001)["defined"]
    assert not foundations_vs_chance(_base_items(60), _chance_grid(None), "biology", 0.001)["defined"]
    assert not foundations_vs_chance(_base_items(60, ability="code"), _chance_grid(), "biology", 0.001)[
        "defined"
    ]


def test_a_synthetic_study_gets_the_class_its_truth_implies(analysed):
    sets = analysed["sets"]
    assert analysed["correction"] == {"method": "Benjamini-Hochberg", "fdr": 0.05, "intervals": 28}
    assert {name: entry["acc"]["class"] for name, entry in sets.items()} == {
        "biology": "responsive",
        "history": "parameter-biased",
        "reasoning": "data-biased",
        "ethics": "resistant",
        "code": "resistant",
        "math": "declining",
        "role_play": "undetermined",  # no effect, but too noisy to call flat
    }
    assert [sets["role_play"]["acc"][a]["verdict"] for a in FLAT_AXES] == ["within noise"] * 2
    assert sets["biology"]["continuous"]["class"] == "responsive"
    assert sets["math"]["continuous"]["class"] == "declining"
    for name, entry in sets.items():
        assert entry["class"] == entry[entry["score"]]["class"]
        truth = TRUTHS[name]
        for score in ("acc", "continuous"):
            for axis, slope in (("param", truth.param_slope), ("data", truth.data_slope)):
                fit = entry[score][axis]
                assert fit["alpha"] == pytest.approx(slope, abs=0.005 if truth.run_sd < 0.01 else 0.05)
                assert {"p_adjusted", "discovery", "verdict"} <= set(fit)


def test_the_study_reports_noise_signal_decisions_and_artefacts(analysed):
    sets = analysed["sets"]
    flagged = {name for name, entry in sets.items() if entry["acc"]["foundations"]["beyond_chance"]}
    assert flagged == {"code"}  # its untuned foundations answer 60% against a chance of 25%
    block = sets["biology"]["continuous"]
    assert block["family"] == "bytes" and block["items"] == 100
    assert block["replicates_per_point"] == [2]  # two foundations per size x volume
    assert block["noise"]["replicates"] > 0 and block["noise"]["checkpoints"] > 0
    assert block["snr_replicates"] == pytest.approx(block["signal"]["range"] / block["noise"]["replicates"])
    assert block["snr"] == pytest.approx(block["signal"]["relative"] / block["noise"]["checkpoints"])
    assert block["signal"]["null"]["defined"] and block["signal"]["null"]["permutations"] == 10
    decided = block["decision_accuracy"]
    assert decided["defined"] and decided["value"] == 1.0 and decided["low"] <= 1.0 == decided["high"]
    noisy = sets["role_play"]["continuous"]
    assert noisy["noise"]["replicates"] > 10 * block["noise"]["replicates"]


def test_normalised_sensitivities_span_0_to_1_with_their_intervals(analysed):
    sets = analysed["sets"]
    values = [entry["acc"]["param"]["normalised"] for entry in sets.values()]
    assert min(values) == 0.0 and max(values) == 1.0
    for entry in sets.values():
        fit = entry["acc"]["param"]
        low, high = fit["normalised_interval"]
        assert low <= fit["normalised"] <= high


def test_features_on_the_continuous_score_are_in_each_sets_noise_units():
    sensitivity = {
        a: {
            "acc": {"noise": {"replicates": 0.1}, "param": {"normalised": 0.5}, "data": {"normalised": 0.5}},
            "continuous": {
                "noise": {"replicates": noise},
                "param": {"normalised": 0.5},
                "data": {"normalised": 0.5},
            },
        }
        for a, noise in (("a", 0.5), ("b", 0.25), ("c", None))
    }
    rows = [
        {"pool": f"only-{j}", "ability": i, "loss": 2.0, "acc": 0.5, "continuous": value}
        for j, i, value in (("a", "a", 1.0), ("a", "b", 0.5), ("b", "a", 2.0), ("b", "b", 1.5))
    ]
    foundation = {"test.a.continuous": 0.0, "test.b.continuous": 0.25, "test.a.acc": 0.2, "test.b.acc": 0.2}
    resampling = {"replicates": 20, "seed": 0, "level": 0.95}
    found, fits = features_on_scores(
        ["a", "b", "c"], pd.DataFrame(rows), foundation, sensitivity, {"w1": 1, "w2": 1, "w": 1}, resampling
    )
    # Transference_a = (cross[a][b] - cross[b][b]) / noise_b = (0.5 - 1.5) / 0.25 = -4
    assert found["continuous"]["transference"]["a"] == pytest.approx(-4.0)
    # Complexity_a = L_a - (cross[b][a] - foundation_a) / noise_a = 2 - (2.0 - 0) / 0.5 = -2
    assert found["continuous"]["complexity"]["a"] == pytest.approx(-2.0)
    assert found["acc"]["transference"]["a"] == pytest.approx(0.0)
    assert "replicate noise" in found["continuous"]["missing"]["c"]  # no noise: no common units
    assert not fits["continuous"]["complexity_vs_param"]["defined"]  # two sets: no line to test
