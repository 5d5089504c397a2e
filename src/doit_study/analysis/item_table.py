"""The per-item table behind every number of the study (metrics/items.csv, tracked in git): for each
setting, split, scored epoch and set, every item's result (`acc`: 1 or 0, or a judge's score) and its
continuous score, so that the study table, the analysis and the report recompute from a clone
(`python -m doit_study verify`). Built from the evaluate stages' predictions."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from doit_study.analysis.study_table import JUDGE, UNSEEN, read_frame
from doit_study.core.files import DataError, read_json, read_json_lines
from doit_study.core.schema import PROMPTINGS
from doit_study.evaluation.continuous import ability_family
from doit_study.evaluation.judging import SCORE

ITEM_COLUMNS = {
    "setting": "string",
    "split": "string",  # valid (every scored epoch) or test (the selected epoch)
    "epoch": "int64",
    "ability": "string",  # the set
    "item": "string",
    "acc": "float64",
    "continuous": "float64",  # only on the items of the set's majority family (docs/evaluation.md)
    "family": "string",
}


def item_frame(records: Mapping[tuple[str, str, int], Sequence[Mapping]]) -> pd.DataFrame:
    """Per (setting, split, epoch) and prediction record: `acc` and `continuous`, the latter only
    on the items of the set's majority family (the others are in other units)."""
    rows = [
        {
            "setting": setting,
            "split": split,
            "epoch": epoch,
            "ability": record["type"],
            "item": record["id"],
            "acc": float(record["correct"]),
            "continuous": record.get("continuous"),
            "family": record.get("family"),
        }
        for (setting, split, epoch), found in records.items()
        for record in found
    ]
    frame = pd.DataFrame(rows, columns=list(ITEM_COLUMNS))
    frame["continuous"] = frame["continuous"].astype("float64")
    keys = ["setting", "split", "epoch", "ability"]
    majority = frame.groupby(keys)["family"].transform(
        lambda families: (
            ability_family([f for f in families if f is not None]) if families.notna().any() else None
        )
    )
    frame.loc[frame["family"] != majority, "continuous"] = np.nan
    frame["family"] = majority
    frame = frame.sort_values([*keys, "item"], kind="stable").reset_index(drop=True)
    return frame.astype(ITEM_COLUMNS)


def judged_items(folder: Path, setting: str) -> list[dict]:
    """A judged setting's items as prediction records of the set `judge`: a win scores 1, a tie or
    inconsistent orders 0.5, a loss 0; items whose verdict could not be read are left out."""
    path = folder / f"{setting}.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        {"type": JUDGE, "id": row["id"], "correct": SCORE[row["outcome"]], "continuous": None}
        for row in rows
        if row["outcome"] in SCORE
    ]


def design_records(
    records: list[dict], held_out: Sequence[str], judged: list[dict], promptings: Mapping[str, list[dict]]
) -> list[dict]:
    """A setting's test records with the design sets added: each item of a held-out task again as
    an item of `unseen_tasks` (accuracy only: its families differ), the judged items, and the chain
    items under each prompting as items of `<set>.<prompting>` (the study table's rows)."""
    unseen = [
        r | {"type": UNSEEN, "continuous": None, "family": None} for r in records if r.get("task") in held_out
    ]
    prompted = [
        r | {"type": f"{r['type']}.{name}"} for name, rows in sorted(promptings.items()) for r in rows
    ]
    return [*records, *unseen, *judged, *prompted]


def read_records(path: Path) -> list[dict]:
    """A predictions file's records; none for a file the setting's scoring did not write."""
    return [record for _, record in read_json_lines(path)] if path.is_file() else []


def setting_records(folder: Path, held_out: list[str], judged: list[dict]) -> dict[tuple[str, int], list]:
    """(split, epoch) -> prediction records of one setting: every scored valid epoch, test at the
    selected epoch with the design sets (held-out tasks, judgements, promptings), each benchmark suite
    at each number of shots (split `benchmark.<k>shot`, its suites as sets)."""
    record = read_json(folder / "epochs.json", "missing: run the evaluate stage of this setting")
    found = {
        ("valid", e["epoch"]): read_records(folder / f"valid-epoch-{e['epoch']:02d}.jsonl")
        for e in record["epochs"]
    }
    promptings = {p: read_records(folder / f"test-{p}.jsonl") for p in PROMPTINGS}
    test = design_records(read_records(folder / "test.jsonl"), held_out, judged, promptings)
    found[("test", record["best_epoch"])] = test
    return found | benchmark_records(folder, record["best_epoch"])


def benchmark_records(folder: Path, epoch: int) -> dict[tuple[str, int], list]:
    """Each benchmark suite at each number of shots: split `benchmark.<k>shot`, its suites as sets."""
    found = {}
    for path in sorted(folder.glob("benchmarks-*shot.jsonl")):
        rows = [r | {"type": r["suite"], "family": "option"} for r in read_records(path)]
        found[(f"benchmark.{path.stem.split('-')[1]}", epoch)] = rows
    return found


def read_items_table(path: os.PathLike | str) -> pd.DataFrame:
    frame = read_frame(path, {c: t for c, t in ITEM_COLUMNS.items() if t == "string"})
    missing = [c for c in ITEM_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(path, f"no column {missing[0]!r}: written by an older study stage, rerun it")
    return frame[list(ITEM_COLUMNS)].astype(ITEM_COLUMNS)
