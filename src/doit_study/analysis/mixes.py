"""Data mixes derived from the analysis (the paper's Section 5.2, chosen there by hand): resistant
abilities cut to a floor, plateaued ones capped where their data curve flattens, the rest scaled, to
keep the Baseline's total (Reconstruct) or to their whole pool (Maximum). The Table 3 analogue
compares the mixes' benchmark scores with the Baseline's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from doit_study.core.schema import ABILITIES
from doit_study.items.subsets import Mix, mix_sizes

DERIVED = ("reconstruct", "maximum")


def plateau(volumes: Sequence[int], scores: Sequence[float], tolerance: float) -> int | None:
    """The smallest volume whose score is within `tolerance` of the best, when that is below the
    largest volume measured (the curve has flattened); None while it still rises at the end."""
    best = max(scores)
    first = min(v for v, s in zip(volumes, scores, strict=True) if s >= best - tolerance)
    return first if first < max(volumes) else None


def no_gain(
    volumes: Sequence[int], scores: Sequence[float], chance: float | None, tolerance: float
) -> str | None:
    """Why a data curve shows no gain from data, or None when it rises: flat at the chance level
    (when the score has one), or no point more than `tolerance` above the smallest volume's."""
    ends = f"{scores[0]:.3f} at {volumes[0]} → {scores[-1]:.3f} at {volumes[-1]} items per ability"
    if chance is not None and max(scores) <= chance + tolerance:
        return f"data curve flat at chance level {chance:.3f} ({ends})"
    if max(scores[1:]) <= scores[0] + tolerance:
        return f"data curve does not rise with data ({ends})"
    return None


def _rule(label: str, ns: list[int], ys: list[float], chance, floor: int, tolerance: float, interval) -> dict:
    def rule(kind: str, n: int | None, reason: str) -> dict:
        return {"class": label, "rule": kind, "n": n, "reason": reason}

    if label == "resistant":
        return rule("floor", floor, "resistant to size and data")
    if label == "undefined":
        return rule("scale", None, "not classified")
    if len(ns) < 2:
        return rule("scale", None, "one data volume: no curve to read")
    if interval.get("defined") and not interval["excludes_zero"]:  # no gain from data beyond noise
        band = f"[{interval['low']:.3g}, {interval['high']:.3g}]"
        reason = f"data sensitivity within noise: its {interval['level']:.0%} interval {band} includes zero"
        return {"class": "resistant", "analysis_class": label, "rule": "floor", "n": floor, "reason": reason}
    flat = no_gain(ns, ys, chance, tolerance)
    if flat:  # a falling or flat curve is no plateau: data does not help this ability
        return {"class": "resistant", "analysis_class": label, "rule": "floor", "n": floor, "reason": flat}
    level = plateau(ns, ys, tolerance)
    if level is not None:
        return rule(
            "cap",
            level,
            f"rising data curve within {tolerance:.3g} of its best from {level} items per ability",
        )
    return rule("scale", None, "still rising with data")


def ability_rules(
    sensitivity: Mapping[str, dict],
    volume_to_n: Mapping[float, int],
    floor: int,
    tolerance: float,
) -> dict[str, dict]:
    """Per ability: `floor` (resistant, a data sensitivity within noise, or a data curve that falls
    or stays flat), `cap` (a rising curve that levels off at n items per ability) or `scale`, with
    the reason, read on the score
    the analysis chose for it (`score`: the higher signal-to-noise). `tolerance` is in accuracy;
    a continuous curve is read with its seed noise instead (its units are not accuracy's). An
    ability the analysis could not classify is scaled, and says so."""
    rules = {}
    for ability in ABILITIES:
        entry = sensitivity.get(ability) or {
            "score": "acc",
            "acc": {"data": {"curve": {"x": [], "score": []}}},
        }
        score = entry["score"]
        block = entry[score]
        data = block.get("data", {})  # no data-volume factor (the FLAN grid): no curve to read
        curve = data.get("curve", {"x": [], "score": []})
        points = sorted(
            (volume_to_n[x], y) for x, y in zip(curve["x"], curve["score"], strict=True) if x in volume_to_n
        )
        label = entry.get("class", "undefined")
        band = tolerance if score == "acc" else block["noise"]["seeds"]
        interval = data.get("interval", {})
        ns, ys = [n for n, _ in points], [y for _, y in points]
        found = _rule(label, ns, ys, block.get("random"), floor, band, interval)
        rules[ability] = {"score": score} | found
    return rules


def derive_mixes(
    rules: Mapping[str, dict],
    baseline_total: int,
    available: Mapping[str, int],
    maximum_per_ability: int | None,
) -> dict[str, dict[str, int]]:
    """Reconstruct: floors and caps fixed, the scaled abilities share what is left of the Baseline's
    total (water-filling when a pool is short). Maximum: the same floors and caps, every scaled
    ability at its whole pool (or `maximum_per_ability`, but never below its Reconstruct size)."""
    fixed = {a: min(r["n"], available[a]) for a, r in rules.items() if r["rule"] != "scale"}
    reconstruct = mix_sizes(Mix(fixed=fixed, others="fill", total=baseline_total), available)
    # Maximum never has less of an ability than Reconstruct, whatever the cap
    limit = {a: max(min(n, maximum_per_ability or n), reconstruct[a]) for a, n in available.items()}
    maximum = mix_sizes(Mix(fixed=fixed, others="full"), limit)
    return {"reconstruct": reconstruct, "maximum": maximum}


def mix_table(baseline: Mapping[str, float], mixes: Mapping[str, Mapping[str, float]]) -> dict:
    """The Table 3 analogue: data volume, overall and every benchmark score of the Baseline and each
    mix, with each mix's change over the Baseline."""
    keys = ["train_examples", "overall", *sorted(k for k in baseline if k.startswith("benchmark."))]
    table = {"baseline": {k: baseline[k] for k in keys}}
    for name, metrics in mixes.items():
        missing = [k for k in keys if k not in metrics]
        if missing:
            raise KeyError(f"mix {name} has no {missing[0]}")
        table[name] = {k: metrics[k] for k in keys}
        table[name] |= {f"{k}.change": metrics[k] - baseline[k] for k in keys if k != "train_examples"}
    return table
