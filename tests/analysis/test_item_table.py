"""The per-item table (metrics/items.csv): its columns, the continuous score kept only on a set's
majority family, the design sets' records, and reading it back."""

import json

import pandas as pd
import pytest

from doit_study.analysis.item_table import (
    ITEM_COLUMNS,
    design_records,
    item_frame,
    judged_items,
    read_items_table,
)
from doit_study.analysis.study_table import write_frame
from doit_study.core.files import DataError


def _records():
    return {
        ("s-n4", "test", 2): [
            {"type": "chinese", "id": "b", "correct": False, "continuous": -4.0, "family": "bytes"},
            {"type": "chinese", "id": "a", "correct": True, "continuous": -2.0, "family": "bytes"},
            {"type": "chinese", "id": "c", "correct": True, "continuous": 0.9, "family": "option"},
            {"type": "math", "id": "m", "correct": 0.5, "continuous": None, "family": None},
        ],
        ("s-n4", "valid", 1): [
            {"type": "chinese", "id": "v", "correct": True, "continuous": -1.0, "family": "bytes"},
        ],
    }


def test_item_frame_has_the_table_columns_and_keeps_continuous_scores_of_the_majority_family():
    frame = item_frame(_records())
    assert list(frame.columns) == list(ITEM_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == ITEM_COLUMNS
    test = frame[(frame["split"] == "test") & (frame["ability"] == "chinese")]
    assert test["item"].tolist() == ["a", "b", "c"]  # sorted by item within a setting and set
    assert test["acc"].tolist() == [1.0, 0.0, 1.0]
    # two bytes items against one option item: the option score is in other units, left out
    assert test["continuous"].tolist()[:2] == [-2.0, -4.0] and pd.isna(test["continuous"].iloc[2])
    assert set(test["family"]) == {"bytes"}
    math_row = frame[frame["ability"] == "math"].iloc[0]
    assert math_row["acc"] == 0.5 and pd.isna(math_row["continuous"]) and pd.isna(math_row["family"])
    assert frame[frame["split"] == "valid"]["epoch"].tolist() == [1]


def test_judged_items_score_wins_ties_and_losses_and_leave_unreadable_verdicts_out(tmp_path):
    outcomes = [("c1", "win"), ("c2", "inconsistent"), ("c3", "unparsable"), ("c4", "loss"), ("c5", "tie")]
    (tmp_path / "s.jsonl").write_text(
        "".join(json.dumps({"id": i, "outcome": o}) + "\n" for i, o in outcomes)
    )
    judged = judged_items(tmp_path, "s")
    assert [(j["type"], j["id"], j["correct"]) for j in judged] == [
        ("judge", "c1", 1.0),
        ("judge", "c2", 0.5),
        ("judge", "c4", 0.0),
        ("judge", "c5", 0.5),
    ]
    assert judged_items(tmp_path, "never-judged") == []


def test_design_records_add_held_out_tasks_judgements_and_promptings():
    records = [
        {"type": "biology", "id": "b1", "task": "biology/genetics", "correct": True, "continuous": 0.3},
        {"type": "code", "id": "c1", "task": "code/humaneval", "correct": False, "continuous": -0.1},
    ]
    judged = [{"type": "judge", "id": "j1", "correct": 0.5, "continuous": None}]
    prompted = {"direct": [{"type": "math", "id": "m1", "correct": False, "continuous": -3.0}]}
    found = design_records(records, ["biology/genetics"], judged, prompted)
    types = [(r["type"], r["id"]) for r in found]
    assert types == [
        ("biology", "b1"),
        ("code", "c1"),
        ("unseen_tasks", "b1"),
        ("judge", "j1"),
        ("math.direct", "m1"),
    ]
    unseen = next(r for r in found if r["type"] == "unseen_tasks")
    assert unseen["continuous"] is None and unseen["family"] is None  # accuracy only: families differ
    assert records[0]["type"] == "biology"  # the test records themselves are left as they were


def test_the_items_table_reads_back_as_written_and_refuses_an_older_one(tmp_path):
    frame = item_frame(_records())
    write_frame(tmp_path / "items.csv", frame)
    pd.testing.assert_frame_equal(read_items_table(tmp_path / "items.csv"), frame)
    write_frame(tmp_path / "old.csv", frame.drop(columns="family"))
    with pytest.raises(DataError, match="no column 'family'"):
        read_items_table(tmp_path / "old.csv")
    with pytest.raises(DataError, match="missing"):
        read_items_table(tmp_path / "absent.csv")
