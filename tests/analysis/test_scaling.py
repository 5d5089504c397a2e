"""Every set's scaling on both scores, on synthetic grids with known slopes and known seed noise: the
seed-and-item resampling, noise, signal-to-noise, decision accuracy, the guidance's choice of
score, the features in noise units, the figure data, and the report's verdicts."""

import math

import numpy as np
import pandas as pd
import pytest

from doit_study.analysis.scaling import features_on_scores, item_frame, sensitivities
from doit_study.analysis.study_table import STUDY_COLUMNS, plot_tables

SIZES = {"s": 100, "l": 1600}
NS = [4, 16, 64]
BOOT = {"replicates": 300, "seed": 0, "level": 0.95}
THRESHOLDS = {"resistant": 0.3, "balance": 0.1}


def _grid(abilities, seeds, score_of, n_items=40):
    """Study rows and prediction records for sizes x volumes x seeds. score_of(ability, size, n,
    seed, item) -> (correct, continuous)."""
    rows, records, epochs = [], {}, {}
    for size, parameters in SIZES.items():
        for n in NS:
            for seed in range(seeds):
                setting = f"{size}-n{n}-seed{seed}"
                records[setting] = []
                summary = {}
                for ability in abilities:
                    scored = [score_of(ability, size, n, seed, k) for k in range(n_items)]
                    records[setting] += [
                        {
                            "type": ability,
                            "id": f"{ability}-{k:03d}",
                            "correct": c,
                            "continuous": v,
                            "family": "bytes",
                        }
                        for k, (c, v) in enumerate(scored)
                    ]
                    acc, cont = np.mean([c for c, _ in scored]), np.mean([v for _, v in scored])
                    summary[ability] = {"acc": acc, "continuous": cont, "continuous_family": "bytes"}
                    rows.append(
                        {
                            "setting": setting,
                            "size": size,
                            "seed": seed,
                            "parameters": parameters,
                            "pool": "curated",
                            "kind": "uniform",
                            "n_per_ability": n,
                            "data_volume": 10 * n,
                            "best_epoch": 2,
                            "split": "test",
                            "ability": ability,
                            "label": ability,
                            "acc": acc,
                            "random": 0.25,
                            "loss": 1.0,
                            "continuous": cont,
                            "continuous_random": None,
                        }
                    )
                epochs[setting] = {"min_epoch": 2, "epochs": [{"epoch": 2, "summary": summary}]}
    grid = pd.DataFrame(rows, columns=list(STUDY_COLUMNS)).astype(STUDY_COLUMNS)
    return grid, records, epochs


def _known(noise_sd=0.05, slope=0.1):
    """Continuous score 0.2 + slope * log(n) + a seed effect of SD noise_sd, the same on every item;
    accuracy the same at every setting (no signal on it)."""
    rng = np.random.default_rng(0)
    effects = {}

    def score_of(ability, size, n, seed, item):
        key = (ability, size, n, seed)
        effects.setdefault(key, rng.normal(0, noise_sd))
        return item % 2 == 0, 0.2 + slope * math.log(n) + effects[key]

    return score_of


def test_a_known_data_slope_and_seed_noise_are_recovered_with_an_interval_that_holds_it():
    grid, records, epochs = _grid(["math"], seeds=8, score_of=_known())
    found = sensitivities(grid, item_frame(records), epochs, BOOT, THRESHOLDS)["math"]
    data = found["continuous"]["data"]
    assert data["alpha"] == pytest.approx(0.1, abs=0.01)  # per log(items): the slope per log(10 n)
    assert data["interval"]["low"] < 0.1 < data["interval"]["high"] and data["interval"]["excludes_zero"]
    assert found["continuous"]["noise"]["seeds"] == pytest.approx(0.05, rel=0.25)
    assert found["continuous"]["seeds_per_point"] == [8]
    # accuracy is flat: no spread, no noise -> no SNR; the guidance reads the continuous score
    assert found["acc"]["snr"] is None and found["acc"]["data"]["interval"]["excludes_zero"] is False
    assert found["score"] == "continuous" and found["class"] == found["continuous"]["class"]
    spread = found["continuous"]["signal"]  # the range of the point means: about 0.1 * log(64 / 4)
    assert spread == pytest.approx(0.1 * math.log(16), abs=0.08)
    assert found["continuous"]["snr"] == pytest.approx(spread / found["continuous"]["noise"]["seeds"])
    assert found["continuous"]["decision_accuracy"] == 1.0  # both sizes order the volumes alike


def test_one_seed_per_point_leaves_the_noise_and_the_continuous_comparison_undefined():
    grid, records, epochs = _grid(["math", "code"], seeds=1, score_of=_known())
    found = sensitivities(grid, item_frame(records), epochs, BOOT, THRESHOLDS)
    assert (
        found["math"]["continuous"]["noise"]["seeds"] is None and found["math"]["continuous"]["snr"] is None
    )
    assert found["math"]["continuous"]["data"]["normalised"] is None  # no units to compare sets in
    assert found["math"]["continuous"]["class"] == "undefined" and found["math"]["score"] == "acc"


def test_the_seeds_of_one_point_are_averaged_item_by_item_and_items_must_be_paired():
    def score_of(ability, size, n, seed, item):
        return (item < {4: 0, 16: 1, 64: 2}[n] + seed), float(seed)

    grid, records, epochs = _grid(["math"], seeds=2, score_of=score_of, n_items=4)
    found = sensitivities(grid, item_frame(records), epochs, BOOT, THRESHOLDS)["math"]["acc"]
    # n=4: seeds score 0/4 and 1/4 -> 0.125; n=16: 0.375; n=64: 0.625 (both sizes alike)
    assert found["data"]["curve"]["score"] == [
        pytest.approx(0.125),
        pytest.approx(0.375),
        pytest.approx(0.625),
    ]
    assert found["noise"]["seeds"] == pytest.approx(math.sqrt(0.125**2 * 2 * 6 / 6))
    records["l-n64-seed1"] = [dict(r, id=r["id"] + "x") for r in records["l-n64-seed1"]]
    other = sensitivities(grid, item_frame(records), epochs, BOOT, THRESHOLDS)["math"]["acc"]
    assert other["defined"] is False and "other math items" in other["reason"]


def test_continuous_scores_count_only_the_majority_family():
    records = {
        "s": [
            {"type": "chinese", "id": "a", "correct": True, "continuous": -2.0, "family": "bytes"},
            {"type": "chinese", "id": "b", "correct": False, "continuous": -4.0, "family": "bytes"},
            {"type": "chinese", "id": "c", "correct": True, "continuous": 0.9, "family": "option"},
        ]
    }
    frame = item_frame(records)
    assert frame["continuous"].mean() == pytest.approx(-3.0) and set(frame["family"]) == {"bytes"}
    assert frame["acc"].tolist() == [1.0, 0.0, 1.0]


def test_features_on_the_continuous_score_are_in_each_sets_noise_units():
    sensitivity = {
        a: {
            "acc": {"noise": {"seeds": 0.1}, "param": {"normalised": 0.5}, "data": {"normalised": 0.5}},
            "continuous": {
                "noise": {"seeds": noise},
                "param": {"normalised": 0.5},
                "data": {"normalised": 0.5},
            },
        }
        for a, noise in (("a", 0.5), ("b", 0.25))
    }
    rows = [
        {"pool": f"only-{j}", "ability": i, "loss": 2.0, "acc": 0.5, "continuous": value}
        for j, i, value in (("a", "a", 1.0), ("a", "b", 0.5), ("b", "a", 2.0), ("b", "b", 1.5))
    ]
    foundation = {"test.a.continuous": 0.0, "test.b.continuous": 0.25, "test.a.acc": 0.2, "test.b.acc": 0.2}
    found, _ = features_on_scores(
        ["a", "b"], pd.DataFrame(rows), foundation, sensitivity, {"w1": 1, "w2": 1, "w": 1}
    )
    # Transference_a = (cross[a][b] - cross[b][b]) / noise_b = (0.5 - 1.5) / 0.25 = -4
    assert found["continuous"]["transference"]["a"] == pytest.approx(-4.0)
    # Complexity_a = L_a - (cross[b][a] - foundation_a) / noise_a = 2 - (2.0 - 0) / 0.5 = -2
    assert found["continuous"]["complexity"]["a"] == pytest.approx(-2.0)
    assert found["acc"]["transference"]["a"] == pytest.approx(0.0)


def test_plot_tables_hold_the_seed_mean_and_spread_at_each_position_with_the_chance_level():
    grid, _, epochs = _grid(
        ["math"], seeds=3, score_of=lambda a, size, n, seed, k: (k < seed + 1, -float(seed)), n_items=4
    )
    overall = dict.fromkeys(grid["setting"], 0.5)
    tables = plot_tables(grid, overall, {k: {"epochs": []} for k in epochs})
    acc = tables["acc"]
    point = acc[(acc["series"] == "s curated") & (acc["n_per_ability"] == 16)].iloc[0]
    assert point["acc"] == pytest.approx(0.5) and (point["seed_min"], point["seed_max"]) == (0.25, 0.75)
    assert point["seeds"] == 3 and point["random"] == 0.25
    cont = tables["continuous"]
    assert cont["continuous"].tolist() == [-1.0] * 6 and cont["random"].isna().all()  # bytes: no chance
    assert len(tables["overall"]) == 6 and tables["overall"]["random"].tolist() == [0.25] * 6


def test_design_sets_come_from_held_out_tasks_judgements_and_promptings(tmp_path):
    import json

    from doit_study.analysis.scaling import design_records, judged_items

    records = [
        {"type": "biology", "id": "b1", "task": "biology/genetics", "correct": True, "continuous": 0.3},
        {"type": "code", "id": "c1", "task": "code/humaneval", "correct": False, "continuous": -0.1},
    ]
    outcomes = [("c1", "win"), ("c2", "inconsistent"), ("c3", "unparsable")]
    (tmp_path / "s.jsonl").write_text(
        "".join(json.dumps({"id": i, "outcome": o}) + "\n" for i, o in outcomes)
    )
    judged = judged_items(tmp_path, "s")
    assert [(j["id"], j["correct"]) for j in judged] == [("c1", 1.0), ("c2", 0.5)]  # unreadable: left out
    prompted = {"direct": [{"type": "math", "id": "m1", "correct": False, "continuous": -3.0}]}
    found = design_records(records, ["biology/genetics"], judged, prompted)
    types = [(r["type"], r["id"]) for r in found]
    assert ("unseen_tasks", "b1") in types and ("unseen_tasks", "c1") not in types
    assert ("judge", "c2") in types and ("math.direct", "m1") in types
    assert next(r for r in found if r["type"] == "unseen_tasks")["continuous"] is None  # families differ
    assert judged_items(tmp_path, "never-judged") == []
