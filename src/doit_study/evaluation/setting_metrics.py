"""The flat metrics of one setting (what `dvc metrics diff` compares): the overall average and
every set's scores per split."""

from __future__ import annotations

import math
from collections.abc import Mapping

from doit_study.core.schema import ABILITIES


def in_domain_mean(summary: Mapping[str, dict]) -> float:
    """Mean accuracy over the in-domain abilities present (the validation score used for selection).
    Summed with `math.fsum`, which rounds the exact sum once: the same accuracies in any order give
    the same score, so a tie between epochs is a tie to the last bit."""
    scores = [summary[name]["acc"] for name in ABILITIES if name in summary]
    if not scores:
        raise ValueError("no in-domain ability in the summary")
    return math.fsum(scores) / len(scores)


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
