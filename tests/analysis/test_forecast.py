"""Forecasts (analysis.forecast, analysis.forecast_fits) on synthetic ladders with a known truth: four
sizes (4x apart) by four volumes (1, 4, 16, 64 items per ability), three replicate units per size
each fine-tuned at every volume; the continuous score a power law in size and data, accuracy a
sigmoid of it with chance as its floor (or, for the one-step line, linear in log size and data).
Each unit draws its own level (shared by its runs), each run its own noise.

Coverage is a binomial share: over n forecasts its standard error at 0.95 is sqrt(0.95 * 0.05 / n)
(0.0077 over 800); the tolerances below are about 3.5 of them."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from doit_study.analysis.forecast import (
    feature_forecast,
    forecast_set,
    forecast_study,
    forecast_table,
    ladder,
    summarise_forecasts,
)
from doit_study.analysis.forecast_fits import fit_curve, power, power_starts, sigmoid, sigmoid_starts

SIZES = [1e5 * 4**k for k in range(4)]
ITEMS = [1, 4, 16, 64]
CHANCE = 0.25


def continuous(n, d):
    return 1.0 - 0.8 * (n / 1e5) ** -0.3 - 0.5 * d**-0.4


def acc_sigmoid(n, d):
    return CHANCE + 0.7 * expit(6 * (continuous(n, d) - 0.2))


def acc_line(n, d):
    return 0.3 + 0.03 * math.log(n / 1e5) + 0.02 * math.log(d)


def simulate(rng, acc=acc_sigmoid, units=3, unit_sd=0.01, run_sd=0.01) -> pd.DataFrame:
    """The runs, and each run's truth: `true_acc`, `true_continuous` (the curve plus its unit's own
    level: the mean the target's units would reach without run noise)."""
    rows = []
    for n in SIZES:
        for u in range(units):
            levels = rng.normal(0, unit_sd, 2)
            for d in ITEMS:
                truth = np.array([acc(n, d), continuous(n, d)]) + levels
                noisy = truth + rng.normal(0, run_sd, 2)
                rows.append(
                    {"foundation": f"{n:.0f}-{u}", "parameters": n, "items": d}
                    | {
                        "acc": noisy[0],
                        "continuous": noisy[1],
                        "true_acc": truth[0],
                        "true_continuous": truth[1],
                    }
                )
    return pd.DataFrame(rows)


def _coverage(ladders: int, axis: str, acc, methods: dict, seed: int, replicates: int = 20) -> dict:
    """Per (score, method): forecasts, the share of prediction intervals holding the target's
    observed mean (`actual`) and of mean intervals holding its true mean (`truth`: for a size target
    the curve itself, its units being new draws; for a volume target the curve plus its units'
    levels), with each share's standard error over ladders (a ladder's forecasts share its fit)."""
    rng, found, wanted = np.random.default_rng(seed), {}, sorted({m for ms in methods.values() for m in ms})
    column, other = ("parameters", "items") if axis == "param" else ("items", "parameters")
    for k in range(ladders):
        runs = simulate(rng, acc)
        out = forecast_set(runs, CHANCE, axis, replicates=replicates, seed=k, methods=wanted)
        hit = runs[runs[column] == runs[column].max()]
        for score, names in methods.items():
            block = out["scores"][score]
            for name in names:
                hits = []
                for target in block["methods"][name]["targets"]:
                    mine = hit[hit[other] == block["recipes"][target["recipe"]][other]]
                    n, d = mine["parameters"].iloc[0], mine["items"].iloc[0]
                    truth = (acc(n, d) if score == "acc" else continuous(n, d)) if axis == "param" else None
                    truth = mine[f"true_{score}"].mean() if truth is None else truth
                    low, high = target["mean_interval"]
                    hits.append((target["inside"], low <= truth <= high))
                found.setdefault((score, name), []).append(np.array(hits, dtype=float))
    shares = {}
    for key, per in found.items():
        shares[key] = {"forecasts": sum(len(p) for p in per)}
        for i, of in enumerate(("actual", "truth")):
            means = np.array([p[:, i].mean() for p in per])
            shares[key] |= {
                of: float(means.mean()),
                f"{of}_se": float(means.std(ddof=1) / math.sqrt(len(per))),
            }
    return shares


# --- the fits ---------------------------------------------------------------------------------


def test_power_fit_recovers_its_parameters_within_their_intervals():
    """Two recipes sharing A and a (the slice of L = E + A/N^a + B/D^b), six scales, known noise."""
    rng = np.random.default_rng(1)
    z = np.tile(4.0 ** np.arange(6), 2)
    r = np.repeat([0, 1], 6)
    truth = {"E_0": 0.9, "E_1": 0.7, "A": 0.6, "a": 0.35}
    y = np.array([truth["E_0"], truth["E_1"]])[r] - truth["A"] * z ** -truth["a"] + rng.normal(0, 0.005, 12)
    fit = fit_curve(power(2), np.vstack([z, r]), y, np.full(12, 0.005), power_starts(z, r, y, 2))
    found = fit.summary(1.96)
    assert found["converged"] and found["at_bound"] == [] and found["converged_starts"] == 3
    for name, value in truth.items():
        low, high = found["intervals"][name]
        assert low <= value <= high, (name, value, low, high)
        assert high - low < 0.25 * abs(value)  # and the interval says something


def test_sigmoid_fit_recovers_its_parameters_within_their_intervals():
    rng = np.random.default_rng(2)
    c = np.linspace(-0.4, 0.8, 25)
    truth = {"span": 0.7, "k": 6.0, "c0": 0.2}
    acc = CHANCE + truth["span"] * expit(truth["k"] * (c - truth["c0"])) + rng.normal(0, 0.01, 25)
    fit = fit_curve(sigmoid(CHANCE), c, acc, np.full(25, 0.01), sigmoid_starts(c, acc, CHANCE))
    found = fit.summary(1.96)
    assert found["converged"]
    for name, value in truth.items():
        low, high = found["intervals"][name]
        assert low <= value <= high, (name, value, low, high)
    free = fit_curve(sigmoid(None), c, acc, np.full(25, 0.01), sigmoid_starts(c, acc, None)).summary(1.96)
    low, high = free["intervals"]["floor"]  # without a chance level the floor is fitted
    assert low <= CHANCE <= high


def test_a_fit_that_cannot_converge_is_reported_as_failed_with_scipys_reason():
    z = 4.0 ** np.arange(4)
    y = 0.8 - 0.5 * z**-0.3
    x = np.vstack([z, np.zeros(4)])
    failed = fit_curve(power(1), x, y, None, power_starts(z, np.zeros(4, int), y, 1), max_nfev=1)
    assert not failed.converged and failed.theta is None
    assert "maximum number of function evaluations" in failed.reason
    assert failed.summary(1.96) == {"converged": False, "reason": failed.reason, "starts": 3, "points": 4}
    too_few = fit_curve(power(1), x[:, :2], y[:2], None, [[0.8, 0.5, 0.3]])
    assert not too_few.converged and too_few.reason == "2 points for 3 parameters"


def test_a_failed_fit_leaves_its_forecast_undefined_and_counted_not_replaced():
    runs = simulate(np.random.default_rng(3))
    out = forecast_set(runs, CHANCE, "param", replicates=10, max_nfev=1)
    for name in ("one_step_power", "two_step"):
        method = out["scores"]["acc"]["methods"][name]
        assert method["defined"] is False
        assert "maximum number of function evaluations" in str(method)
        assert all("prediction" not in t and "interval" not in t for t in method.get("targets", []))
    summary = summarise_forecasts({"sets": {"synthetic": {"param": out}}})
    power_stats = summary["param"]["acc"]["methods"]["one_step_power"]
    assert power_stats["failed"] == power_stats["forecasts"] == 4 and power_stats["mae"] is None


# --- the baseline and the bookkeeping -----------------------------------------------------------


def _hand_made() -> pd.DataFrame:
    """Two sizes (10 fitted, 100 the target), three volumes, one unit each (scores by hand)."""
    scores = {(10, 1): 0.30, (10, 4): 0.50, (10, 16): 0.40, (100, 1): 0.60, (100, 4): 0.70, (100, 16): 0.80}
    return pd.DataFrame(
        [
            {"foundation": f"f{n}", "parameters": n, "items": d, "acc": v, "continuous": v}
            for (n, d), v in scores.items()
        ]
    )


def test_ranking_baseline_decision_accuracy_is_exact_on_a_hand_made_ladder():
    """Smallest size orders 4 > 16 > 1, the target 16 > 4 > 1: pairs (1, 4) and (1, 16) agree,
    (4, 16) does not: 2/3. A tie at the smallest size counts half: (4, 16) tied gives 2.5/3."""
    out = forecast_set(_hand_made(), CHANCE, "param")
    ranking = out["scores"]["acc"]["methods"]["ranking"]
    assert out["scores"]["acc"]["recipes"] == [{"items": 1}, {"items": 4}, {"items": 16}]
    assert ranking["decision_accuracy"] == pytest.approx(2 / 3)
    assert ranking["predicted_order"] == [1, 2, 0] and ranking["actual_order"] == [2, 1, 0]
    line = out["scores"]["acc"]["methods"]["one_step_linear"]  # one fitted size: no line
    assert not line["defined"] and line["targets"][0]["reason"] == "the fit failed: 1 points for 2 parameters"
    tied = _hand_made()
    tied.loc[(tied["parameters"] == 10) & (tied["items"] == 16), ["acc", "continuous"]] = 0.5
    tied_ranking = forecast_set(tied, CHANCE, "param")["scores"]["acc"]["methods"]["ranking"]
    assert tied_ranking["decision_accuracy"] == pytest.approx(2.5 / 3)


def test_noise_parts_a_units_level_from_its_runs_and_cancels_it_where_the_target_shares_it():
    """Units far apart (sd 0.2), runs close (sd 0.005): along data (a unit at every volume, and at
    the target) its level cancels and the line's interval is narrow; along size (a unit has one
    size) the target's units are new and their level is the noise."""
    runs = simulate(np.random.default_rng(4), acc=acc_line, unit_sd=0.2, run_sd=0.005)
    along_data = ladder(runs, "items", ["parameters"], ["acc"], 64)
    along_size = ladder(runs, "parameters", ["items"], ["acc"], SIZES[-1])
    assert along_data.shared and along_data.noise.startswith("unit level and run, along")
    assert not along_size.shared and along_size.noise == "unit level and run, across recipes"
    for found in (along_data, along_size):
        assert found.sds["run"][0] == pytest.approx(0.005, rel=0.3)
        assert found.sds["unit"][0] == pytest.approx(0.2, rel=0.6)
    assert [p.df for p in along_data.parts] == [4 * 2 * 2]  # recipes x (units - 1) x (volumes - 1)
    assert [p.df for p in along_size.parts] == [3 * 2, 3 * 2 * 3]  # sizes x (units - 1) [x (recipes - 1)]
    # cells at one size share their units' level: they covary; cells along data do not
    cov = along_size.cov(0)
    same_size = (along_size.z[:, None] == along_size.z[None, :]) & ~np.eye(len(along_size.z), dtype=bool)
    assert np.all(cov[same_size] > 0) and np.all(cov[~same_size & ~np.eye(len(cov), dtype=bool)] == 0)
    assert np.count_nonzero(along_data.cov(0) - np.diag(np.diag(along_data.cov(0)))) == 0
    widths = {}
    for axis in ("data", "param"):
        line = forecast_set(runs, CHANCE, axis, methods=["one_step_linear"])["scores"]["acc"]["methods"]
        widths[axis] = np.mean(
            [t["interval"][1] - t["interval"][0] for t in line["one_step_linear"]["targets"]]
        )
    assert widths["data"] < 0.1 < widths["param"]


def test_a_design_grid_forecasts_its_task_count_with_the_other_factors_as_recipes():
    """FLAN's grid: size x task count x chain-of-thought share; the largest task count is forecast
    per (size, share); a share has no power law to forecast along."""
    base = simulate(np.random.default_rng(7)).rename(columns={"items": "task_count"})
    runs = pd.concat([base.assign(cot_ratio=0.0), base.assign(cot_ratio=0.5, acc=base["acc"] + 0.05)])
    out = forecast_set(runs, CHANCE, "tasks", factors=("param", "tasks", "cot"), replicates=10)
    block = out["scores"]["acc"]
    assert out["recipe_columns"] == ["parameters", "cot_ratio"] and out["fitted"] == [1.0, 4.0, 16.0]
    assert len(block["recipes"]) == 8 and block["recipes"][1] == {"parameters": 1e5, "cot_ratio": 0.5}
    assert all(block["methods"][m]["defined"] for m in ("one_step_linear", "one_step_power", "two_step"))
    assert block["methods"]["ranking"]["decision_accuracy"] is not None
    assert not forecast_set(runs, CHANCE, "cot", factors=("param", "tasks", "cot"))["defined"]


def test_without_replicates_the_forecasts_stand_and_their_intervals_say_why_there_are_none():
    out = forecast_set(simulate(np.random.default_rng(8), units=1), CHANCE, "param", replicates=10)
    assert out["scores"]["acc"]["noise"] == {"method": "none: one unit per cell", "df": 0}
    for name in ("one_step_linear", "one_step_power", "two_step"):
        method = out["scores"]["acc"]["methods"][name]
        assert method["defined"] and all("prediction" in t and "interval" not in t for t in method["targets"])
        reasons = {t.get("interval_reason", method.get("interval_reason")) for t in method["targets"]}
        assert reasons == {"no noise measured (none: one unit per cell)"}, (name, reasons)


def test_a_forecast_wider_than_chance_to_one_is_flagged_too_wide():
    runs = simulate(np.random.default_rng(5), acc=acc_line, unit_sd=0.4)
    out = forecast_set(runs, CHANCE, "param", replicates=10)
    targets = out["scores"]["acc"]["methods"]["one_step_linear"]["targets"]
    assert all(t["too_wide"] and t["undecided"] for t in targets)
    assert all(t["interval"][1] - t["interval"][0] > 1 - CHANCE for t in targets)


def test_study_summary_is_the_mean_of_its_forecasts():
    rng = np.random.default_rng(6)
    sets = {"a": simulate(rng), "b": simulate(rng, acc=acc_line)}
    result = forecast_study(sets, {"a": CHANCE, "b": CHANCE}, replicates=10)
    json.dumps(result)  # metrics/forecast.json: plain values only
    table = forecast_table(result)
    assert len(table) == 2 * 2 * (4 * 3 + 4 * 2)  # sets x axes x (acc: 3 fitted methods, continuous: 2) x 4
    for axis in ("param", "data"):
        block = result["summary"][axis]["acc"]
        mine = table[(table["axis"] == axis) & (table["score"] == "acc") & (table["method"] == "two_step")]
        stats = block["methods"]["two_step"]
        assert stats["mae"] == pytest.approx(mine["abs_error"].mean())
        assert stats["mae_points"] == pytest.approx(100 * mine["abs_error"].mean())
        assert stats["coverage"] == pytest.approx(mine["inside"].astype(bool).mean())
        assert stats["sets"] == 2 and stats["forecasts"] == 8 and stats["failed"] == 0
        decided = [
            result["sets"][s][axis]["scores"]["acc"]["methods"]["ranking"]["decision_accuracy"] for s in sets
        ]
        assert block["methods"]["ranking"]["decision_accuracy"] == pytest.approx(np.mean(decided))
        assert block["best_mae"] in block["methods"] and block["best_decisions"] in block["methods"]


# --- coverage -------------------------------------------------------------------------------------

DELTA = {"acc": ["one_step_linear"], "continuous": ["one_step_power"]}  # each on a ladder of its own form


def _check(found: dict, forecasts: int) -> None:
    """Each share within 3.5 standard errors of 0.95: over ladders, or the binomial one if larger."""
    for key, shares in found.items():
        assert shares["forecasts"] == forecasts, key
        for of in ("actual", "truth"):
            tolerance = 3.5 * max(shares[f"{of}_se"], math.sqrt(0.95 * 0.05 / forecasts))
            assert abs(shares[of] - 0.95) <= tolerance, (key, of, shares, tolerance)


@pytest.mark.parametrize("axis", ["param", "data"])
def test_delta_intervals_cover_at_their_level(axis):
    """Fast variant of the next test: 50 ladders (200 forecasts a method), +-0.054."""
    _check(_coverage(50, axis, acc_line, DELTA, seed=11), 200)


@pytest.mark.slow
@pytest.mark.parametrize("axis", ["param", "data"])
def test_delta_intervals_cover_at_their_level_over_200_ladders(axis):
    """The one-step line on accuracy linear in log size and data, the one-step power law on the
    continuous score (each its own model), delta method, 200 ladders (800 forecasts; standard error
    over ladders about 0.01). Measured coverage of the observed mean / of the true mean (2026-12-08,
    with the lack-of-fit scaling and analytic Jacobians): size target: line 0.960 / 0.958, power law
    0.976 / 0.978; volume target: line 0.961 / 0.968, power law 0.958 / 0.960. Before the scaling:
    0.949 / 0.934, 0.964 / 0.970, 0.953 / 0.956, 0.933 / 0.924: it widens, the power law on size
    now somewhat too much."""
    _check(_coverage(200, axis, acc_line, DELTA, seed=12), 800)


def test_two_step_bootstrap_intervals_cover_at_their_level():
    """Fast variant of the next test: 15 ladders (60 forecasts), 40 resamples, +-0.099."""
    _check(_coverage(15, "param", acc_sigmoid, {"acc": ["two_step"]}, seed=13, replicates=40), 60)


@pytest.mark.slow
@pytest.mark.parametrize("axis", ["param", "data"])
def test_two_step_bootstrap_intervals_cover_at_their_level_over_200_ladders(axis):
    """Two steps on accuracy a sigmoid of the power-law continuous score, 100 resamples, 200
    ladders (800 forecasts). Measured coverage of the observed mean / of the true mean: size target
    0.946 / 0.934 (standard errors over ladders 0.011 / 0.013), volume target 0.948 / 0.949 (0.007 /
    0.008); the same with analytic Jacobians (2026-12-08), in a third of the time."""
    _check(_coverage(200, axis, acc_sigmoid, {"acc": ["two_step"]}, seed=14, replicates=100), 800)


# --- DoIT's features as a forecast --------------------------------------------------------------


def test_feature_forecast_against_a_constant_by_hand():
    """Sensitivity exactly 2 x complexity - transference: the regression left out of each ability
    predicts it exactly; the constant (the others' mean) misses by |y_i - mean of the others|."""
    features = pd.DataFrame(
        {"complexity": [0.0, 1.0, 2.0, 3.0, 4.0], "transference": [1.0, 0.0, 1.0, 0.0, 2.0]},
        index=["a", "b", "c", "d", "e"],
    )
    sensitivity = 2 * features["complexity"] - features["transference"]  # -1, 2, 3, 6, 6
    found = feature_forecast(features, sensitivity)
    y = sensitivity.to_numpy()
    constant = [abs(y[k] - np.delete(y, k).mean()) for k in range(5)]  # 5.25, 1.5, 0.25, 3.5, 3.5
    assert found["defined"] and found["abilities"] == 5 and found["columns"] == ["complexity", "transference"]
    assert found["mae_features"] == pytest.approx(0.0, abs=1e-9)
    assert found["mae_constant"] == pytest.approx(np.mean(constant)) == pytest.approx(14 / 5)
    assert found["per_ability"]["a"]["constant"] == pytest.approx(17 / 4)
    assert found["features_better"] and found["wins"] == 5
    json.dumps(found)  # plain Python numbers: the stage writes it as JSON (numpy scalars would raise)


def test_feature_forecast_loses_to_a_constant_where_the_features_say_nothing_and_needs_abilities():
    """Complexity 0, 1, 2, 3 against sensitivities 1, -1, 1, -1: the line left out of a, fitted on
    (1, -1), (2, 1), (3, -1), is flat at -1/3 and misses a by 4/3; the constant there is -1/3 too."""
    features = pd.DataFrame({"complexity": [0.0, 1.0, 2.0, 3.0]}, index=list("abcd"))
    found = feature_forecast(features, pd.Series([1.0, -1.0, 1.0, -1.0], index=list("abcd")))
    assert found["per_ability"]["a"]["features"] == pytest.approx(-1 / 3)
    assert found["per_ability"]["a"]["constant"] == pytest.approx(-1 / 3)
    assert found["mae_features"] > found["mae_constant"] and not found["features_better"]
    few = feature_forecast(features.iloc[:2], pd.Series([1.0, 2.0], index=["a", "b"]))
    assert few == {"defined": False, "reason": "2 abilities with features and a sensitivity"}
