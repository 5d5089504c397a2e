"""What the analysis can claim, in words: for every fitted sensitivity whether its interval excludes
zero (an effect) or not (within noise), which score carries a finding and its signal-to-noise, the
paper's findings beside this run's, and the limits of the run. Pure functions over the analysis
outputs; every sentence is computed, none is written in advance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from doit_study.core.schema import display_name

SCORES = {"acc": "accuracy", "continuous": "continuous score"}
AXES = {
    "param": "model size",
    "data": "data volume",
    "tasks": "task count",
    "cot": "chain-of-thought share",
    "open": "open-ended share",
}


def fitted_axes(sensitivity: Mapping[str, dict]) -> list[str]:
    """The factors this run fitted, in AXES order."""
    found = {
        axis
        for e in sensitivity.values()
        for block in e.values()
        if isinstance(block, dict)
        for axis in block
    }
    return [axis for axis in AXES if axis in found]


# The paper's findings (Song et al., Sections 4.3 and 5), stated as the paper states them, each
# with the sets of this run that speak to it.
PAPER_FINDINGS = (
    ("Overall score", "rises with both data volume and model size (Figure 1)", ()),
    (
        "Creative writing",
        "plateaus with data: its curve flattens around 1,000 items (Figure 3)",
        ("creative_writing",),
    ),
    ("Knowledge abilities", "more sensitive to model size (parameter-biased)", ("biology", "history")),
    ("Ethics, role-play chat", "low sensitivity to every factor (resistant)", ("ethics", "role_play")),
    ("Logical reasoning", "data-biased: more sensitive to data volume than to model size", ("reasoning",)),
    ("Complexity", "linear in the sensitivity to model size (Figure 7 i)", ()),
    ("Transference", "linear in the sensitivity to data volume (Figure 7 ii)", ()),
    ("Data mixes", "Reconstruct (same total) gains 1-3% on AGIEval; Maximum gains further (Table 3)", ()),
)


def number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def verdict(fit: Mapping) -> str:
    """'rises' or 'falls' when the interval excludes zero, 'within noise' when it does not."""
    if not fit.get("defined"):
        return f"undefined ({fit.get('reason', 'not fitted')})"
    interval = fit.get("interval", {})
    if not interval.get("defined"):
        return f"no interval ({interval.get('reason', 'not resampled')})"
    if not interval["excludes_zero"]:
        return "within noise"
    return "rises" if fit["alpha"] > 0 else "falls"


def fit_cell(fit: Mapping) -> str:
    """alpha [low, high] and the verdict."""
    if not fit.get("defined"):
        return verdict(fit)
    interval = fit.get("interval", {})
    band = f" [{number(interval['low'])}, {number(interval['high'])}]" if interval.get("defined") else ""
    return f"{number(fit['alpha'])}{band}: {verdict(fit)}"


def effect_counts(sensitivity: Mapping[str, dict]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per score and axis: (sets whose interval excludes zero, sets fitted)."""
    counts: dict[str, dict[str, tuple[int, int]]] = {}
    for score in SCORES:
        for axis in fitted_axes(sensitivity):
            fits = [e[score][axis] for e in sensitivity.values() if e[score].get(axis, {}).get("defined")]
            beyond = sum(f.get("interval", {}).get("excludes_zero", False) for f in fits)
            counts.setdefault(score, {})[axis] = (beyond, len(sensitivity))
    return counts


def effect_sentences(sensitivity: Mapping[str, dict], level: str) -> list[str]:
    lines = []
    for score, axes in effect_counts(sensitivity).items():
        parts = [f"{beyond} of {total} {AXES[axis]} sensitivities" for axis, (beyond, total) in axes.items()]
        lines.append(
            f"On the {SCORES[score]}, {' and '.join(parts)} have a {level}interval that excludes zero."
        )
    return lines


def set_findings(name: str, entry: Mapping) -> str:
    """One set: its class on the score the guidance reads, and each sensitivity's verdict on both."""
    score = entry["score"]
    other = next(s for s in SCORES if s != score)

    def verdicts(block: Mapping) -> str:
        return f"size {verdict(block.get('param', {}))}, data {verdict(block.get('data', {}))}"

    main = entry[score]
    read = f"read on the {SCORES[score]} (SNR {number(main.get('snr'))})"
    besides = f"on the {SCORES[other]}: {verdicts(entry[other])}"
    return f"{display_name(name)}: {entry['class']}, {read}: {verdicts(main)}; {besides}"


def regression_cell(fits: Mapping[str, Mapping], key: str) -> str:
    cells = []
    for score, label in SCORES.items():
        fit = fits[score].get(key, {})
        if not fit.get("defined"):
            cells.append(f"{label}: undefined ({fit.get('reason')})")
            continue
        said = "significant at 5%" if fit["p_value"] < 0.05 else "within noise (p ≥ 0.05)"
        stats = f"r = {fit['pearson_r']:.2f}, p = {fit['p_value']:.3f} over {fit['points']} sets"
        cells.append(f"{label}: {stats}, {said}")
    return "; ".join(cells)


def this_run(topic: str, sets: Sequence[str], sensitivity, regressions, overall_rows, mix_table=None) -> str:
    """What this run measured on the topic of one of the paper's findings."""
    if topic == "Data mixes":
        if not mix_table:
            return "not run"
        changes = [
            f"{name} {key.removesuffix('.change')} {value:+.4f}"
            for name, row in mix_table.items()
            for key, value in row.items()
            if key.startswith("benchmark.") and key.endswith(".change")
        ]
        return "change over the Baseline (one seed each, no interval): " + "; ".join(changes)
    if topic == "Overall score":
        ends = []
        for series, rows in overall_rows.sort_values("n_per_ability").groupby("series", sort=True):
            first, last = rows.iloc[0], rows.iloc[-1]
            ends.append(f"{series}: {first['overall']:.3f} → {last['overall']:.3f}")
        return "smallest → largest volume per size (seed means): " + "; ".join(ends)
    if topic in ("Complexity", "Transference"):
        return regression_cell(
            regressions, "complexity_vs_param" if topic == "Complexity" else "transference_vs_data"
        )
    return "; ".join(
        set_findings(name, sensitivity[name])
        if name in sensitivity
        else f"{display_name(name)}: not measured"
        for name in sets
    )


def run_limits(sensitivity: Mapping[str, dict], sizes: int, volumes: int, seeds: Sequence[int]) -> list[str]:
    """Plain statements, computed from this run, of what its numbers can support."""
    limits = [f"{sizes} model sizes and {volumes} data volumes enter each sensitivity fit."]
    if max(seeds, default=1) < 2:
        limits.append(
            "Every grid point has one seed: the intervals resample items only, and no seed noise is known."
        )
    else:
        counts = f"{min(seeds)}" if min(seeds) == max(seeds) else f"{min(seeds)} to {max(seeds)}"
        limits.append(f"Grid points have {counts} seeds; the intervals resample items and seeds together.")
    undefined = sorted(name for name, e in sensitivity.items() if e["continuous"].get("snr") is None)
    if undefined:
        limits.append(
            "No signal-to-noise on the continuous score for "
            + ", ".join(display_name(n) for n in undefined)
            + ": the guidance reads accuracy there."
        )
    return limits


def budget_limits(settings: Mapping[str, Mapping]) -> list[str]:
    """What the generation budgets allowed, per answer kind, from the settings' `budget.*` metrics:
    a kind whose budget holds under half of its gold answers is called unscorable."""
    kinds = sorted(
        {key.split(".")[1] for metrics in settings.values() for key in metrics if key.startswith("budget.")}
    )
    lines = []
    for kind in kinds:
        tokens = max(m[f"budget.{kind}.tokens"] for m in settings.values() if f"budget.{kind}.tokens" in m)
        fit = min(m[f"budget.{kind}.gold_fit"] for m in settings.values() if f"budget.{kind}.gold_fit" in m)
        if fit < 0.5:
            lines.append(
                f"{kind} answers cannot be scored: their budget of {tokens} new tokens holds only {fit:.0%} "
                "of the gold answers, so a model that answers like its training data is cut off."
            )
        else:
            lines.append(
                f"{kind} answers had up to {tokens} new tokens, enough for {fit:.0%} of the gold answers."
            )
    return lines
