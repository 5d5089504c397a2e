"""From per-type summaries to the study's numbers: checkpoint selection, the overall average, the
flat metrics of one setting, and the rows of the study table."""

from __future__ import annotations

import math
from collections.abc import Mapping

from doit_study.schema import ABILITIES, display_name


def in_domain_mean(summary: Mapping[str, dict]) -> float:
    """Mean accuracy over the in-domain abilities present (the validation score used for selection).
    Summed with `math.fsum`, which rounds the exact sum once: the same accuracies in any order give
    the same score, so a tie between epochs is a tie to the last bit."""
    scores = [summary[name]["acc"] for name in ABILITIES if name in summary]
    if not scores:
        raise ValueError("no in-domain ability in the summary")
    return math.fsum(scores) / len(scores)


def select_best_epoch(valid_scores: Mapping[int, float], min_epoch: int) -> int:
    """The epoch with the highest validation score at or after `min_epoch`; ties go to the earlier."""
    eligible = sorted(epoch for epoch in valid_scores if epoch >= min_epoch)
    if not eligible:
        raise ValueError(f"no checkpoint at or after epoch {min_epoch} (have {sorted(valid_scores)})")
    return max(eligible, key=lambda epoch: valid_scores[epoch])  # max keeps the first of equals


def overall(test_summary: Mapping[str, dict]) -> float:
    """Mean over every test set, in-domain abilities and out-of-domain sets alike, each counted once."""
    if not test_summary:
        raise ValueError("no test sets to average")
    return math.fsum(entry["acc"] for entry in test_summary.values()) / len(test_summary)


def setting_metrics(
    best_epoch: int,
    valid_summary: Mapping[str, dict],
    test_summary: Mapping[str, dict],
    benchmarks: Mapping[str, float],
    parameters: int,
    examples: int,
) -> dict[str, float | int]:
    """The flat metrics file of one setting (what `dvc metrics diff` compares)."""
    metrics: dict[str, float | int] = {
        "best_epoch": best_epoch,
        "overall": overall(test_summary),
        "valid.score": in_domain_mean(valid_summary),
        "parameters": parameters,
        "train_examples": examples,
    }
    metrics |= split_metrics("valid", valid_summary) | split_metrics("test", test_summary)
    metrics.update({f"benchmark.{key}": value for key, value in benchmarks.items()})
    return dict(sorted(metrics.items()))


def split_metrics(split: str, summary: Mapping[str, dict]) -> dict[str, float | int]:
    """`<split>.<set>.{acc,unparsed,loss}`, test's `random`, and the continuous score's keys."""
    metrics: dict[str, float | int] = {}
    for name, entry in summary.items():
        for key in ("acc", "unparsed", "loss") + (("random",) if split == "test" else ()):
            if key in entry:
                metrics[f"{split}.{name}.{key}"] = entry[key]
        metrics |= continuous_metrics(f"{split}.{name}", entry)
    return metrics


def continuous_metrics(prefix: str, entry: Mapping) -> dict[str, float | int]:
    """`<prefix>.continuous`, its chance level (`.continuous_random`, absent for the `bytes` family)
    and the items it covers (`.continuous_items`), where the set has a continuous score."""
    if "continuous" not in entry:
        return {}
    found = {
        f"{prefix}.continuous": entry["continuous"],
        f"{prefix}.continuous_items": entry["continuous_items"],
    }
    if entry["continuous_random"] is not None:
        found[f"{prefix}.continuous_random"] = entry["continuous_random"]
    return found


def subset_factors(name: str, index: Mapping) -> dict:
    """Pool, items per ability and data volume of a subset, from the subsets index."""
    entry = index["subsets"][name]
    if entry["kind"] in ("uniform", "single_ability"):  # <pool>-n<items per ability>
        pool, n = name.rsplit("-n", 1)
        per_ability: int | None = int(n)
    else:
        pool, per_ability = name, None
    found = {"pool": pool, "n_per_ability": per_ability, "data_volume": entry["total"], "kind": entry["kind"]}
    return found | {factor: entry.get(factor) for factor in DESIGN_FACTORS}


DESIGN_FACTORS = ("task_count", "cot_ratio", "open_ratio")  # FLAN's and LIMIT's (docs/designs.md)


# the study table's columns and their types (metrics/study.csv; empty cells are missing values)
STUDY_COLUMNS = {
    "setting": "string",
    "size": "string",
    "seed": "int64",
    "parameters": "int64",
    "pool": "string",
    "kind": "string",
    "n_per_ability": "Int64",  # none for a mix
    "data_volume": "int64",
    "task_count": "Int64",  # FLAN: tasks trained (none outside task-count subsets)
    "cot_ratio": "float64",  # FLAN: share of chain items trained with their chain
    "open_ratio": "float64",  # LIMIT: open-ended share of the data
    "best_epoch": "int64",
    "split": "string",
    "ability": "string",
    "label": "string",
    "acc": "float64",
    "random": "float64",
    "loss": "float64",
    "continuous": "float64",
    "continuous_random": "float64",  # none for the bytes family: a likelihood has no guessing rate
}


def study_rows(setting: str, spec: Mapping, factors: Mapping, metrics: Mapping) -> list[dict]:
    """One row per split x set of a setting (valid and test at the best checkpoint). `spec` is the
    setting's params entry (size, subset, seed)."""
    rows = []
    for key, value in metrics.items():
        split, _, rest = key.partition(".")
        if split not in ("valid", "test") or not rest.endswith(".acc"):
            continue
        ability = rest.removesuffix(".acc")
        prefix = f"{split}.{ability}"
        rows.append(
            {
                "setting": setting,
                "size": spec["size"],
                "seed": spec["seed"],
                "parameters": metrics["parameters"],
                **{k: factors[k] for k in ("pool", "kind", "n_per_ability", "data_volume", *DESIGN_FACTORS)},
                "best_epoch": metrics["best_epoch"],
                "split": split,
                "ability": ability,
                "label": display_name(ability),
                "acc": value,
                "random": metrics.get(f"test.{ability}.random"),
                "loss": metrics.get(f"{prefix}.loss"),
                "continuous": metrics.get(f"{prefix}.continuous"),
                "continuous_random": metrics.get(f"{prefix}.continuous_random"),
            }
        )
    return rows
