"""Synthetic studies with a known truth for the analysis tests: the study table's test rows (the
grid) and the per-item table, as the study stage writes them, for sets whose sensitivities, noise
and untuned foundations are set by hand."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from doit_study.analysis.item_table import item_frame
from doit_study.analysis.study_table import STUDY_COLUMNS
from doit_study.params.analysis import AnalysisParams

SIZES = {"s": 320_000, "m": 1_430_000, "l": 3_920_000}  # the default study's parameter counts
N_PER_ABILITY = (4, 16, 64)
ABILITIES_TRAINED = 10  # data volume = items per ability x abilities


@dataclass(frozen=True)
class SetTruth:
    """A set's true slopes (score per log unit, centred at the grid's middle) and its noise: each
    foundation draws a level, each run (foundation x volume) a seed effect."""

    param_slope: float = 0.0
    data_slope: float = 0.0
    foundation_sd: float = 0.002
    run_sd: float = 0.002
    level: float = 0.5
    base_acc: float | None = None  # the untuned foundations' accuracy (None: the chance level)


# per set: the truth on both axes (score per log unit), chosen for each class and case
TRUTHS = {
    "biology": SetTruth(param_slope=0.06, data_slope=0.04),  # responsive
    "history": SetTruth(param_slope=0.06),  # parameter-biased
    "reasoning": SetTruth(data_slope=0.04),  # data-biased
    "ethics": SetTruth(),  # resistant: no effect, little noise
    "math": SetTruth(data_slope=-0.04),  # declining: more data lowers it
    "role_play": SetTruth(foundation_sd=0.05, run_sd=0.05),  # no effect, lost in noise
    "code": SetTruth(base_acc=0.6),  # no effect; the untuned foundations already beat chance
}


def analysis_params(**overrides) -> AnalysisParams:
    values = {
        "design": "doit",
        "pool": "curated",
        "level": 0.95,
        "fdr": 0.05,
        "flat": {"acc": 0.02, "continuous": 0.25},
        "artefact_p": 0.001,
        "resampling": {"replicates": 20, "seed": 0, "level": 0.95},
        "weights": {"w1": 1.0, "w2": 1.0, "w": 1.0},
    }
    return AnalysisParams.model_validate(values | overrides)


def _records(ability: str, mean: float, items: int, epoch_shift: float = 0.0) -> list[dict]:
    """A run's items: item k (difficulty (k + 0.5) / items) is right when the run's level is above
    its difficulty, so the run's accuracy is its level to 1 / items; the continuous score is the
    level plus the item's own offset (the same in every run: paired items)."""
    level = mean + epoch_shift
    return [
        {
            "type": ability,
            "id": f"{ability}-{k:03d}",
            "correct": (k + 0.5) / items < level,
            "continuous": level + 0.1 * math.sin(k),
            "family": "bytes",
        }
        for k in range(items)
    ]


def synthetic_study(
    truths: Mapping[str, SetTruth],
    foundations: int = 2,
    items: int = 200,
    seed: int = 0,
    chance: float = 0.25,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid (test rows of the study table: every size x foundation x items per ability, one
    fine-tuning run each) and the per-item table (test items, two valid checkpoints per run, and the
    untuned foundations' test items)."""
    rng = np.random.default_rng(seed)
    log_sizes = {s: math.log(p) for s, p in SIZES.items()}
    size_centre = np.mean(list(log_sizes.values()))
    log_volumes = {n: math.log(n * ABILITIES_TRAINED) for n in N_PER_ABILITY}
    volume_centre = np.mean(list(log_volumes.values()))
    rows, records = [], {}
    for size, parameters in SIZES.items():
        for k in range(foundations):
            foundation = f"{size}{k}"
            levels = {a: rng.normal(0, t.foundation_sd) for a, t in truths.items()}
            base = []
            for ability, truth in truths.items():
                correct = truth.base_acc if truth.base_acc is not None else chance
                base += _records(ability, correct, items)
            records[(f"base-{foundation}", "test", 0)] = base
            for n in N_PER_ABILITY:
                setting = f"{foundation}-curated-n{n}"
                test, valid = [], {1: [], 2: []}
                for ability, truth in truths.items():
                    mean = (
                        truth.level
                        + truth.param_slope * (log_sizes[size] - size_centre)
                        + truth.data_slope * (log_volumes[n] - volume_centre)
                        + levels[ability]
                        + rng.normal(0, truth.run_sd)
                    )
                    test += _records(ability, mean, items)
                    for epoch in valid:
                        valid[epoch] += _records(ability, mean, items, rng.normal(0, 0.001))
                    found = pd.DataFrame(test[-items:])
                    rows.append(
                        {
                            "setting": setting,
                            "size": size,
                            "foundation": foundation,
                            "seed": 0,
                            "data_seed": 0,
                            "parameters": parameters,
                            "pool": "curated",
                            "kind": "uniform",
                            "n_per_ability": n,
                            "data_volume": n * ABILITIES_TRAINED,
                            "best_epoch": 2,
                            "split": "test",
                            "ability": ability,
                            "label": ability,
                            "acc": float(found["correct"].mean()),
                            "random": chance,
                            "loss": 1.0,
                            "continuous": float(found["continuous"].mean()),
                            "continuous_random": None,
                        }
                    )
                records[(setting, "test", 2)] = test
                for epoch, found in valid.items():
                    records[(setting, "valid", epoch)] = found
    grid = pd.DataFrame(rows, columns=list(STUDY_COLUMNS)).astype(STUDY_COLUMNS)
    return grid, item_frame(records)
