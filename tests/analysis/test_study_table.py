"""The plot tables drawn from the study table: each curve position's replicate mean, lowest and
highest replicate, count and chance level (synthetic study of tests/analysis/conftest.py)."""

import pandas as pd
import pytest

from doit_study.analysis.study_table import plot_tables, seed_points, unseen_scores


def test_seed_points_average_the_replicates_of_a_position_and_keep_their_spread():
    frame = pd.DataFrame({"series": ["a", "a", "a", "b"], "n": [4, 4, 4, 4], "acc": [0.2, 0.4, 0.9, 0.5]})
    points = seed_points(frame, "acc", ["series", "n"])
    assert points.to_dict("records") == [
        {"series": "a", "n": 4, "acc": pytest.approx(0.5), "seed_min": 0.2, "seed_max": 0.9, "seeds": 3},
        {"series": "b", "n": 4, "acc": 0.5, "seed_min": 0.5, "seed_max": 0.5, "seeds": 1},
    ]


def test_plot_tables_hold_each_positions_replicates_and_chance(study):
    grid, _ = study
    overall = {name: 0.1 * (k % 3) for k, name in enumerate(sorted(grid["setting"].unique()))}
    tables = plot_tables(grid, overall, {"s0-curated-n4": {"epochs": [{"epoch": 1, "valid_score": 0.3}]}})
    acc = tables["acc"]
    point = acc[(acc["ability"] == "biology") & (acc["series"] == "m curated") & (acc["n_per_ability"] == 16)]
    mine = grid[(grid["ability"] == "biology") & (grid["size"] == "m") & (grid["n_per_ability"] == 16)]
    assert len(point) == 1 and point.iloc[0]["seeds"] == 2  # the size's two foundations
    assert point.iloc[0]["acc"] == pytest.approx(mine["acc"].mean())
    assert (point.iloc[0]["seed_min"], point.iloc[0]["seed_max"]) == (mine["acc"].min(), mine["acc"].max())
    assert point.iloc[0]["random"] == 0.25
    assert tables["continuous"]["random"].isna().all()  # bytes: a likelihood has no guessing rate
    assert len(tables["overall"]) == 9 and set(tables["overall"]["seeds"]) == {2}
    assert tables["valid_by_epoch"].to_dict("records") == [
        {"series": "s0-curated-n4", "epoch": 1, "valid_score": 0.3}
    ]


def test_unseen_scores_pool_the_held_out_tasks_items_and_their_chance():
    records = [
        {"task": "a/x", "correct": True, "chance": 0.25},
        {"task": "a/x", "correct": False, "chance": 0.25},
        {"task": "b/y", "correct": True, "chance": 0.5},
        {"task": "c/z", "correct": True, "chance": 0.1},
    ]
    assert unseen_scores(records, ["a/x", "b/y"]) == {
        "acc": pytest.approx(2 / 3),
        "random": pytest.approx(1 / 3),
    }
    assert unseen_scores(records, ["d/w"]) is None
