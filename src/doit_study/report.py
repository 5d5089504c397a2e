"""The study report: metrics/report.md and its HTML rendering, with the figures of figures.py.
Everything is drawn from the analysis outputs; nothing is smoothed or made up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from doit_study.schema import display_name

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
    (
        "Data mixes",
        "Reconstruct (same total) gains 1-3% on AGIEval over the Baseline; Maximum gains further (Table 3)",
        (),
    ),
)


def this_run(
    topic: str,
    sets: Sequence[str],
    sensitivity: Mapping,
    regressions: Mapping,
    overall_rows,
    mix_table: Mapping | None = None,
) -> str:
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
        return "change over the Baseline: " + "; ".join(changes)
    if topic == "Overall score":
        by_size: dict[str, list[tuple[float, float]]] = {}
        for row in overall_rows:
            by_size.setdefault(row["series"], []).append((float(row["data_volume"]), float(row["overall"])))
        ends = [f"{k}: {min(v)[1]:.3f} → {max(v)[1]:.3f}" for k, v in sorted(by_size.items())]
        return "smallest → largest volume per size: " + "; ".join(ends)
    if topic in ("Complexity", "Transference"):
        fit = regressions.get("complexity_vs_param" if topic == "Complexity" else "transference_vs_data", {})
        if not fit.get("defined"):
            return f"undefined ({fit.get('reason')})"
        return f"r = {fit['pearson_r']:.2f}, p = {fit['p_value']:.3f} over {fit['points']} abilities"
    cells = []
    for name in sets:
        entry = sensitivity.get(name)
        if entry is None:
            cells.append(f"{display_name(name)}: not measured")
            continue
        data = entry["data"]
        size_alpha, data_alpha = _number(entry["param"].get("alpha")), _number(data.get("alpha"))
        label = f"{display_name(name)}: {entry.get('class', '?')}"
        cells.append(f"{label} (size alpha {size_alpha}, data alpha {data_alpha})")
    return "; ".join(cells)


def _number(value) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fit_cell(fit: Mapping) -> str:
    if not fit.get("defined"):
        return f"undefined ({fit.get('reason')})"
    interval = fit.get("interval", {})
    band = f" [{_number(interval['low'])}, {_number(interval['high'])}]" if interval.get("defined") else ""
    return f"{_number(fit['alpha'])}{band}, R² {_number(fit['r2'])}"


def _level(fits) -> str:
    """The bootstrap level of the intervals ("95% "), or nothing when no interval exists."""
    levels = [f["interval"]["level"] for f in fits if f["defined"] and f.get("interval", {}).get("defined")]
    return f"{levels[0]:.0%} " if levels else ""


def run_limits(
    sensitivity: Mapping[str, dict], regressions: Mapping[str, dict], sizes: int, volumes: int
) -> list[str]:
    """Plain statements, computed from this run, of what its numbers can support."""
    limits = [f"{sizes} model sizes and {volumes} data volumes enter each sensitivity fit."]
    for axis, label in (("param", "model size"), ("data", "data volume")):
        fits = [e[axis] for e in sensitivity.values()]
        intervals = [f["interval"] for f in fits if f["defined"] and f.get("interval", {}).get("defined")]
        flat = sum(1 for i in intervals if i["low"] <= 0 <= i["high"])
        limits.append(
            f"{flat} of {len(fits)} sets have a {_level(fits)}bootstrap interval for the {label} "
            "sensitivity that includes zero: for them this run cannot tell a trend from noise."
        )
    for name, fit in regressions.items():
        if fit.get("defined"):
            verdict = "significant at 5%" if fit["p_value"] < 0.05 else "not significant at 5%"
            limits.append(f"{name}: r = {fit['pearson_r']:.2f} over {fit['points']} abilities, {verdict}.")
        else:
            limits.append(f"{name}: undefined ({fit['reason']}).")
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


def mixes_section(derivation: Mapping, table: Mapping[str, Mapping]) -> list[str]:
    """The derived mixes, ability by ability, and the Table 3 analogue (a ↑ marks a gain over the
    Baseline)."""
    lines = ["", "## Derived mixes (Section 5.2)", ""]
    lines += [f"Baseline: {derivation['baseline']['subset']} ({derivation['baseline']['total']} items).", ""]
    lines += [
        "| ability | class | rule | why | Reconstruct | Maximum |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for ability, rule in derivation["abilities"].items():
        sizes = [derivation[m]["sizes"][ability] for m in ("reconstruct", "maximum")]
        cells = [display_name(ability), rule["class"], rule["rule"], rule["reason"], *map(str, sizes)]
        lines.append("| " + " | ".join(cells) + " |")
    keys = [k for k in table["baseline"] if k == "overall" or k.startswith("benchmark.")]
    lines += ["", "Benchmarks and overall score at the best checkpoint (the Table 3 analogue):", ""]
    lines += ["| mix | items | " + " | ".join(keys) + " |", "| --- " * (len(keys) + 2) + "|"]
    for name, row in table.items():
        cells = [f"{row[k]:.4f}" + (" ↑" if row.get(f"{k}.change", 0) > 0 else "") for k in keys]
        lines.append(f"| {name} | {row['train_examples']} | " + " | ".join(cells) + " |")
    return lines


def report_markdown(
    provenance: Mapping[str, str],
    overall_rows: Sequence[Mapping],
    sensitivity: Mapping[str, dict],
    features: Mapping,
    regressions: Mapping[str, dict],
    figures: Sequence[str],
    limits: Sequence[str],
    mix_derivation: Mapping | None = None,
    mix_table: Mapping | None = None,
) -> str:
    lines = ["# DoIT study report", "", "## What was run", ""]
    lines += [f"- {key}: {value}" for key, value in provenance.items()]
    lines += ["", "## Figures", ""]
    lines += [f"![{name}](figures/{name})" for name in figures]
    lines += [
        "",
        f"## Sensitivities (alpha, {_level([e[a] for e in sensitivity.values() for a in ('param', 'data')])}"
        "bootstrap interval, R²)",
        "",
        "| ability | model size | data volume | size, normalised | data, normalised | class |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in sorted(sensitivity.items()):
        lines.append(
            f"| {display_name(name)} | {_fit_cell(entry['param'])} | {_fit_cell(entry['data'])} | "
            f"{_number(entry['param'].get('normalised'))} | {_number(entry['data'].get('normalised'))} | "
            f"{entry.get('class', '')} |"
        )
    lines += ["", "## Features", ""]
    complexity, transference = features.get("complexity", {}), features.get("transference", {})
    if complexity.get("defined") is False:
        lines.append(f"Complexity and Transference undefined: {complexity.get('reason')}")
    else:
        lines += ["| ability | test loss | Complexity | Transference |", "| --- | --- | --- | --- |"]
        for name in sorted(complexity):
            values = [features["test_loss"][name], complexity[name], transference[name]]
            lines.append(f"| {display_name(name)} | " + " | ".join(_number(v) for v in values) + " |")
    lines += ["", "## Regression (Figure 7)", "", "| relation | slope | Pearson r | R² | p | LOO RMSE | n |"]
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for name, fit in sorted(regressions.items()):
        if fit.get("defined"):
            cells = [fit[k] for k in ("slope", "pearson_r", "r2", "p_value", "loo_rmse", "points")]
            lines.append(f"| {name} | " + " | ".join(_number(c) for c in cells) + " |")
        else:
            lines.append(f"| {name} | undefined: {fit.get('reason')} | | | | | |")
    if mix_derivation and mix_table:
        lines += mixes_section(mix_derivation, mix_table)
    lines += ["", "## The paper's findings beside this run", ""]
    lines += ["| topic | the paper | this run |", "| --- | --- | --- |"]
    for topic, finding, sets in PAPER_FINDINGS:
        lines.append(
            f"| {topic} | {finding} | "
            f"{this_run(topic, sets, sensitivity, regressions, overall_rows, mix_table)} |"
        )
    lines += ["", "What this run can and cannot show:", ""]
    lines += [f"- {limit}" for limit in limits]
    return "\n".join(lines) + "\n"


def render_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    head = '<head><meta charset="utf-8"><title>DoIT study report</title></head>'
    return f"<!doctype html>\n<html>{head}\n<body>\n{body}</body></html>\n"
