"""Data mixes derived from the analysis (the paper's Section 5.2, chosen there by hand): abilities
that data does not help cut to a floor, rising ones whose curve levels off capped there, the other
rising ones scaled, undecided ones kept at the Baseline, to keep the Baseline's total (Reconstruct) or
to their whole pool (Maximum). The Table 3 analogue compares the mixes with the Baseline, replicate
by replicate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from doit_study.analysis.intervals import t_interval
from doit_study.core.schema import ABILITIES
from doit_study.items.subsets import Mix, mix_sizes


def plateau(volumes: Sequence[int], scores: Sequence[float], tolerance: float) -> int | None:
    """The smallest volume whose score is within `tolerance` of the best, when that is below the
    largest volume measured (the curve has flattened); None while it still rises at the end."""
    best = max(scores)
    first = min(v for v, s in zip(volumes, scores, strict=True) if s >= best - tolerance)
    return first if first < max(volumes) else None


def _rule(
    verdict: str, fit: Mapping, ns: list[int], ys: list[float], floor: int, baseline_n: int, band
) -> dict:
    """One ability's rule from its data verdict (the interval read at the study's false discovery
    rate, docs/analysis.md): data that does not help (flat, falling) floors it; data that helps
    scales it, or caps it where its curve has levelled off; evidence that does not decide keeps it
    at the Baseline's n, and says so."""
    interval = f"[{fit['low']:.3g}, {fit['high']:.3g}]" if fit.get("defined") else "none"
    if verdict in ("flat", "falls"):
        return {"rule": "floor", "n": floor, "reason": f"data verdict {verdict} (interval {interval})"}
    if verdict == "rises":
        level = plateau(ns, ys, band) if len(ns) > 1 and band is not None else None
        if level is not None:
            reason = (
                f"rises with data, its curve within {band:.3g} of its best from {level} items per ability"
            )
            return {"rule": "cap", "n": level, "reason": reason}
        return {"rule": "scale", "n": None, "reason": f"rises with data (interval {interval})"}
    reason = f"no evidence either way: data verdict {verdict} (interval {interval}); kept at the Baseline"
    return {"rule": "baseline", "n": baseline_n, "reason": reason}


def ability_rules(
    sensitivity: Mapping[str, dict],
    volume_to_n: Mapping[float, int],
    floor: int,
    baseline_n: int,
    tolerance: float,
) -> dict[str, dict]:
    """Per ability, read on the score the analysis chose for it (`score`): `floor`, `cap` at n
    items per ability, `scale`, or `baseline` (undecided: the Baseline's n), with the reason and the
    analysis's class. A plateau is read within `tolerance` on accuracy and within the set's replicate
    noise on the continuous score (its units are not accuracy's)."""
    rules = {}
    for ability in ABILITIES:
        entry = sensitivity.get(ability) or {"score": "acc", "class": "undetermined", "acc": {}}
        score = entry["score"]
        block = entry[score]
        data = block.get("data", {})  # no data-volume factor (the FLAN grid): no curve, no verdict
        curve = data.get("curve", {"x": [], "score": []})
        points = sorted(
            (volume_to_n[x], y) for x, y in zip(curve["x"], curve["score"], strict=True) if x in volume_to_n
        )
        band = tolerance if score == "acc" else block.get("noise", {}).get("replicates")
        ns, ys = [n for n, _ in points], [y for _, y in points]
        found = _rule(data.get("verdict", "undetermined"), data, ns, ys, floor, baseline_n, band)
        rules[ability] = {"score": score, "class": entry.get("class", "undetermined")} | found
    return rules


def derive_mixes(
    rules: Mapping[str, dict],
    baseline_total: int,
    available: Mapping[str, int],
    maximum_per_ability: int | None,
) -> dict[str, dict[str, int]]:
    """Reconstruct: floors, caps and the undecided abilities' Baseline sizes fixed, the scaled
    abilities share what is left of the Baseline's total (water-filling when a pool is short).
    Maximum: the same fixed sizes, every scaled ability at its whole pool (or `maximum_per_ability`,
    but never below its Reconstruct size)."""
    fixed = {a: min(r["n"], available[a]) for a, r in rules.items() if r["rule"] != "scale"}
    reconstruct = mix_sizes(Mix(fixed=fixed, others="fill", total=baseline_total), available)
    # Maximum never has less of an ability than Reconstruct, whatever the cap
    limit = {a: max(min(n, maximum_per_ability or n), reconstruct[a]) for a, n in available.items()}
    maximum = mix_sizes(Mix(fixed=fixed, others="full"), limit)
    return {"reconstruct": reconstruct, "maximum": maximum}


def mix_table(
    baselines: Mapping[str, Mapping[str, float]], mixes: Mapping[str, Mapping[str, Mapping]], level: float
) -> dict:
    """The Table 3 analogue over replicates: per key (items, overall, every benchmark score) the
    Baseline's mean over its replicates and each mix's, with each mix's change over the Baseline:
    the mean of the paired differences (a mix replicate against the Baseline's replicate of the same
    foundation, seed and data seed) and its t interval; a change is marked only when that interval
    excludes zero. `baselines`: replicate -> metrics; `mixes`: mix -> replicate -> metrics."""
    first = next(iter(baselines.values()))
    keys = ["train_examples", "overall", *sorted(k for k in first if k.startswith("benchmark."))]
    table = {"baseline": {k: _mean([m[k] for m in baselines.values()]) for k in keys}}
    table["baseline"]["replicates"] = len(baselines)
    for name, runs in mixes.items():
        missing = sorted(set(runs) - set(baselines))
        if missing:
            raise KeyError(f"mix {name}: replicate {missing[0]} has no Baseline run")
        table[name] = {k: _mean([m[k] for m in runs.values()]) for k in keys} | {"replicates": len(runs)}
        for k in keys[1:]:
            change = [runs[r][k] - baselines[r][k] for r in sorted(runs)]
            table[name] |= _change(k, change, level)
    return table


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _change(key: str, differences: Sequence[float], level: float) -> dict:
    mean = _mean(differences)
    found = {f"{key}.change": mean}
    if len(differences) < 2:
        return found
    stderr = float(np.std(differences, ddof=1) / math.sqrt(len(differences)))
    interval = t_interval(mean, stderr, len(differences) - 1, level)
    return found | {
        f"{key}.change_low": interval["low"],
        f"{key}.change_high": interval["high"],
        f"{key}.change_beyond_noise": interval["excludes_zero"],
    }
