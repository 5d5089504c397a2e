"""What the analysis can claim, in words: per fitted sensitivity its verdict (rises or falls beyond
noise at the study's false discovery rate, flat, within noise, undetermined), which score carries a
finding, the sets whose untuned foundations already score beyond chance (a possible position or format
artefact), the paper's findings beside this run's, and the limits of the run. Pure functions over
the analysis outputs; every sentence is computed, none is written in advance."""

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
BEYOND = ("rises", "falls")


def fitted_axes(sensitivity: Mapping[str, dict]) -> list[str]:
    """The factors this run fitted, in AXES order."""
    found = {
        axis for e in sensitivity.values() for score in SCORES for axis in e.get(score, {}) if axis in AXES
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


def fit_cell(fit: Mapping) -> str:
    """alpha [low, high], the adjusted p-value and the verdict."""
    if not fit.get("defined"):
        return f"undetermined ({fit.get('reason', 'not fitted')})"
    band = f"[{number(fit['low'])}, {number(fit['high'])}]"
    return f"{number(fit['alpha'])} {band}, p_adj {number(fit.get('p_adjusted'))}: {fit['verdict']}"


def verdict_counts(sensitivity: Mapping[str, dict]) -> dict[str, dict[str, dict[str, int]]]:
    """Per score and axis: how many sets have each verdict."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for score in SCORES:
        for axis in fitted_axes(sensitivity):
            found: dict[str, int] = {}
            for entry in sensitivity.values():
                verdict = entry[score].get(axis, {}).get("verdict", "undetermined")
                found[verdict] = found.get(verdict, 0) + 1
            counts.setdefault(score, {})[axis] = found
    return counts


def effect_sentences(sensitivity: Mapping[str, dict], correction: Mapping, level: float) -> list[str]:
    """Per score, how many sensitivities of each axis are beyond noise, flat or undecided, and how
    the verdicts were read."""
    lines = []
    for score, axes in verdict_counts(sensitivity).items():
        parts = []
        for axis, found in axes.items():
            beyond = sum(found.get(v, 0) for v in BEYOND)
            total = sum(found.values())
            rest = ", ".join(
                f"{found[v]} {v}" for v in ("flat", "within noise", "undetermined") if found.get(v)
            )
            parts.append(
                f"{beyond} of {total} {AXES[axis]} sensitivities beyond noise ({rest or 'none other'})"
            )
        lines.append(f"On the {SCORES[score]}: {'; '.join(parts)}.")
    lines.append(
        f"Beyond noise means a {level:.0%} Student t interval over the foundation models (docs/analysis.md) "
        f"read with the {correction['method']} correction at a false discovery rate of "
        f"{correction['fdr']:.0%} over all {correction['intervals']} sensitivity intervals (sets × scores × "
        "factors); the intervals shown are each at that level, unadjusted, so one may exclude zero while "
        "its adjusted p says within noise. Flat means the whole interval lies inside the flat band of "
        "`analysis.flat`. Not in that family, and read one at a time: Figure 7's correlations, the mixes' "
        "changes, the forecasts."
    )
    return lines


def findings_list(sensitivity: Mapping[str, dict]) -> list[str]:
    """Every sensitivity beyond noise, one sentence each, on either score."""
    found = []
    for name, entry in sorted(sensitivity.items()):
        for score in SCORES:
            for axis in fitted_axes(sensitivity):
                fit = entry[score].get(axis, {})
                if fit.get("verdict") in BEYOND:
                    found.append(
                        f"{display_name(name)} {fit['verdict']} with {AXES[axis]} on the {SCORES[score]}: "
                        f"{number(fit['alpha'])} per log unit [{number(fit['low'])}, {number(fit['high'])}], "
                        f"adjusted p {number(fit['p_adjusted'])}"
                    )
    return found


def artefact_flags(sensitivity: Mapping[str, dict]) -> list[str]:
    """The sets whose untuned foundations already score beyond chance on accuracy (a possible
    position or format artefact: a set's questions answerable without the ability), with the numbers."""
    lines = []
    for name, entry in sorted(sensitivity.items()):
        base = entry["acc"].get("foundations", {})
        if base.get("beyond_chance"):
            lines.append(
                f"{display_name(name)}: the untuned foundations score {base['acc']:.3f} against a chance of "
                f"{base['chance']:.3f} ({base['correct']} of {base['trials']} answers on {base['items']} "
                f"items, one-sided t over items p {number(base['p_value'])}): possibly answerable from "
                "position or format alone"
            )
    return lines


def set_findings(name: str, entry: Mapping) -> str:
    """One set: its class on the score the guidance reads, and each verdict on both scores."""
    score = entry["score"]
    other = next(s for s in SCORES if s != score)

    def verdicts(block: Mapping) -> str:
        return ", ".join(
            f"{AXES[a]} {block.get(a, {}).get('verdict', 'undetermined')}" for a in ("param", "data")
        )

    read = f"read on the {SCORES[score]} (replicate SNR {number(entry[score].get('snr_replicates'))})"
    besides = f"on the {SCORES[other]}: {verdicts(entry[other])}"
    return f"{display_name(name)}: {entry['class']}, {read}: {verdicts(entry[score])}; {besides}"


def regression_cell(fits: Mapping[str, Mapping], key: str) -> str:
    cells = []
    for score, label in SCORES.items():
        fit = fits[score].get(key, {})
        if not fit.get("defined"):
            cells.append(f"{label}: undefined ({fit.get('reason')})")
            continue
        r, rho = fit["intervals"]["pearson_r"], fit["intervals"]["spearman_rho"]
        stats = (
            f"r = {fit['pearson_r']:.2f} [{r[0]:.2f}, {r[1]:.2f}], "
            f"rho = {fit['spearman_rho']:.2f} [{rho[0]:.2f}, {rho[1]:.2f}], "
            f"p = {fit['p_value']:.3f} over {fit['points']} sets"
        )
        said = "significant at 5%" if fit["p_value"] < 0.05 else "within noise (p ≥ 0.05)"
        cells.append(f"{label}: {stats}, {said}")
    return "; ".join(cells)


def mix_changes(mix_table: Mapping) -> str:
    """Each mix's changes over the Baseline on the benchmarks, beyond noise or not."""
    parts = []
    for name, row in mix_table.items():
        for key, value in row.items():
            if key.startswith("benchmark.") and key.endswith(".change"):
                base = key.removesuffix(".change")
                beyond = row.get(f"{base}.change_beyond_noise")
                band = (
                    f" [{row[base + '.change_low']:+.4f}, {row[base + '.change_high']:+.4f}]"
                    if beyond is not None
                    else ""
                )
                tag = "beyond noise" if beyond else "within noise"
                parts.append(f"{name} {base} {value:+.4f}{band} ({tag})")
    return "; ".join(parts)


def this_run(topic: str, sets: Sequence[str], sensitivity, regressions, overall_rows, mix_table=None) -> str:
    """What this run measured on the topic of one of the paper's findings."""
    if topic == "Data mixes":
        if not mix_table:
            return "not run"
        return "change over the Baseline, paired by replicate: " + mix_changes(mix_table)
    if topic == "Overall score":
        ends = []
        for series, rows in overall_rows.sort_values("n_per_ability").groupby("series", sort=True):
            first, last = rows.iloc[0], rows.iloc[-1]
            ends.append(f"{series}: {first['overall']:.3f} → {last['overall']:.3f}")
        return "smallest → largest volume per size (replicate means): " + "; ".join(ends)
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


def run_limits(sensitivity: Mapping[str, dict], grid) -> list[str]:
    """Plain statements, computed from this run's grid (test rows of the study table), of what its
    numbers can support."""
    sizes, volumes = grid["parameters"].nunique(), grid["data_volume"].nunique()
    per_size = grid.groupby("parameters")["foundation"].nunique()
    per_point = grid.groupby(["parameters", "data_volume"])["setting"].nunique()
    limits = [
        f"{sizes} model sizes and {volumes} data volumes enter each sensitivity; "
        f"{per_size.min()} to {per_size.max()} foundation models per size, {per_point.min()} to "
        f"{per_point.max()} runs per grid point."
    ]
    if per_size.max() < 2:
        limits.append(
            "Every size has one foundation: the size effect cannot be told from that foundation's draw, "
            "and the intervals say so by their width."
        )
    undetermined = sorted(
        name
        for name, e in sensitivity.items()
        if e[e["score"]].get("param", {}).get("verdict") == "undetermined"
    )
    if undetermined:
        limits.append("Undetermined on model size: " + ", ".join(display_name(n) for n in undetermined) + ".")
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
