"""The study report: metrics/report.md and its HTML rendering (a small stylesheet, captioned figures
sized to the page), leading with what the run can tell from noise. Everything is drawn from the
analysis outputs (tables through pandas); nothing is smoothed or made up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from doit_study.analysis.findings import AXES as AXES_LABELS
from doit_study.analysis.findings import (
    PAPER_FINDINGS,
    SCORES,
    artefact_flags,
    effect_sentences,
    findings_list,
    fit_cell,
    fitted_axes,
    number,
    this_run,
)
from doit_study.analysis.forecast_report import forecast_section
from doit_study.core.schema import display_name

CAPTIONS = {
    "fig1_overall.png": "Figure 1. Overall test accuracy against items per ability (log-4 axis), one "
    "line per model size; each point is the mean over its replicates (foundation models, seeds, data "
    "draws), the band spans the lowest to the highest replicate, the dotted line is the random-guess "
    "level.",
    "fig2_6_accuracy.png": "Figures 2-6. Each set's test accuracy against items per ability, drawn as "
    "Figure 1.",
    "fig2_6_continuous.png": "Figures 2-6, continuous score. The gold answer's probability among the "
    "options, its log-likelihood margin over the distractors, or minus its negative log-likelihood per "
    "byte (docs/evaluation.md); the dotted line is the random-guess level where the score has one.",
    "sensitivities.png": "Normalised sensitivities to model size and data volume on each score with "
    "their intervals (Student t over the foundation models), on the scale of the normalisation.",
    "fig7_features.png": "Figure 7. Complexity against the normalised size sensitivity and Transference "
    "against the normalised data sensitivity, on each score, with each sensitivity's interval and the "
    "least-squares line.",
}

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }
h1, h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; }
"""


@dataclass
class ReportInputs:
    provenance: Mapping[str, str]
    overall: pd.DataFrame  # the Figure 1 plot table
    sensitivity: Mapping[str, dict]  # per set (metrics/sensitivity.json's `sets`)
    correction: Mapping  # how the verdicts were read (its `correction`)
    features: Mapping[str, Mapping]  # per score
    regressions: Mapping[str, Mapping]  # per score
    figures: Sequence[str]
    limits: Sequence[str]
    derivation: Mapping | None = None
    mix_table: Mapping | None = None
    level: float = 0.95
    design: str = "doit"
    design_points: pd.DataFrame | None = None  # figures.design_points, for flan and limit
    judge: Mapping[str, float] | None = None  # metrics/judge.json
    forecast: Mapping | None = None  # metrics/forecast.json


def table(rows: Sequence[Mapping], columns: Sequence[str]) -> list[str]:
    frame = pd.DataFrame(rows, columns=list(columns)).astype(object).fillna("")
    return ["", frame.astype(str).to_markdown(index=False, disable_numparse=True), ""]


def noise_section(inputs: ReportInputs) -> list[str]:
    lines = ["## What this study can claim", ""]
    lines += [
        f"- {sentence}" for sentence in effect_sentences(inputs.sensitivity, inputs.correction, inputs.level)
    ]
    found = findings_list(inputs.sensitivity)
    lines += ["", "Beyond noise:" if found else "No sensitivity is beyond noise.", ""]
    lines += [f"- {finding}" for finding in found]
    flags = artefact_flags(inputs.sensitivity)
    if flags:
        lines += ["", "Possible artefacts (untuned foundations already beyond chance):", ""]
        lines += [f"- {flag}" for flag in flags]
    lines += [
        "",
        "Each set is read on the score with the higher signal-to-noise over its replicates; its class "
        "comes from the verdicts (docs/analysis.md), undetermined where they do not decide.",
    ]
    rows = []
    axes = fitted_axes(inputs.sensitivity)
    for name, entry in sorted(inputs.sensitivity.items()):
        main = entry[entry["score"]]
        rows.append(
            {
                "set": display_name(name),
                "read on": SCORES[entry["score"]],
                "SNR accuracy": number(entry["acc"].get("snr_replicates")),
                "SNR continuous": number(entry["continuous"].get("snr_replicates")),
            }
            | {AXES_LABELS[a]: fit_cell(main.get(a, {})) for a in axes}
            | {"decision accuracy": decision_cell(main.get("decision_accuracy", {})), "class": entry["class"]}
        )
    return lines + table(rows, list(rows[0]) if rows else ["set"])


def decision_cell(found: Mapping) -> str:
    if not found.get("defined"):
        return f"undefined ({found.get('reason', 'not computed')})"
    band = f"[{number(found['low'])}, {number(found['high'])}]"
    return f"{number(found['value'])} {band} over {found['pairs']} pairs"


def figures_section(figures: Sequence[str]) -> list[str]:
    lines = ["## Figures", ""]
    order = list(CAPTIONS)
    for name in sorted(figures, key=lambda n: (order.index(n) if n in order else len(order), n)):
        caption = CAPTIONS.get(name, name)
        lines += [
            f'<figure><img src="figures/{name}" alt="{caption.split(".")[0]}">',
            f"<figcaption>{caption}</figcaption></figure>",
            "",
        ]
    return lines


def scores_section(sensitivity: Mapping[str, dict], level: float) -> list[str]:
    lines = ["## Sensitivities on each score", ""]
    lines.append(
        f"alpha per log N or log D (per unit of a share), {level:.0%} Student t interval over the foundation "
        "models, the Benjamini-Hochberg adjusted p-value, and the verdict."
    )
    axes = fitted_axes(sensitivity)
    for score, label in SCORES.items():
        rows = [
            {"set": display_name(name)}
            | {AXES_LABELS[a]: fit_cell(entry[score].get(a, {})) for a in axes}
            | {
                f"{AXES_LABELS[a]}, normalised": number(entry[score].get(a, {}).get("normalised"))
                for a in axes
            }
            | {"class": entry[score].get("class", "undetermined")}
            for name, entry in sorted(sensitivity.items())
        ]
        lines += ["", f"### {label.capitalize()}", *table(rows, list(rows[0]) if rows else ["set"])]
    rows = []
    for name, entry in sorted(sensitivity.items()):
        for score in SCORES:
            block = entry[score]
            found = block.get("signal", {})
            null = found.get("null", {})
            rows.append(
                {
                    "set": display_name(name),
                    "score": SCORES[score],
                    "family": block.get("family", "exact match"),
                    "runs per point": "/".join(map(str, block.get("replicates_per_point", []))),
                    "replicate SD": number(block.get("noise", {}).get("replicates")),
                    "checkpoint noise (relative)": number(block.get("noise", {}).get("checkpoints")),
                    "signal (relative)": number(found.get("relative")),
                    "signal under permuted labels": (
                        f"{number(null['mean'])}, p {number(null['p_value'])}" if null.get("defined") else "–"
                    ),
                    "SNR": number(block.get("snr")),
                    "SNR over replicates": number(block.get("snr_replicates")),
                }
            )
    note = (
        'Signal and checkpoint noise as "Signal and Noise" (Heineman et al., 2025) define them: the '
        "relative dispersion of the final scores across one size's data settings, and the relative "
        "standard deviation over a run's last checkpoints; beside them what permuting each foundation's "
        "setting labels gives (noise alone) and its p-value."
    )
    return [*lines, "", "### Noise and signal", "", note, *table(rows, list(rows[0]) if rows else ["set"])]


def features_section(features: Mapping[str, Mapping], regressions: Mapping[str, Mapping]) -> list[str]:
    lines = ["## Features and their regression (Figure 7)", ""]
    lines.append(
        "On the continuous score, differences are in each set's replicate-noise units (docs/analysis.md). "
        "The correlations' intervals resample the abilities."
    )
    for score, label in SCORES.items():
        entry = features[score]
        complexity, transference = entry.get("complexity", {}), entry.get("transference", {})
        lines += ["", f"### {label.capitalize()}", ""]
        if complexity.get("defined") is False:
            lines.append(f"Complexity and Transference undefined: {complexity.get('reason')}")
        else:
            rows = [
                {
                    "set": display_name(name),
                    "test loss": number(entry["test_loss"][name]),
                    "Complexity": number(complexity[name]),
                    "Transference": number(transference[name]),
                }
                for name in sorted(complexity)
            ]
            lines += table(rows, ["set", "test loss", "Complexity", "Transference"])
        fits = []
        columns = [
            "relation",
            "slope",
            "Pearson r [interval]",
            "p",
            "Spearman rho [interval]",
            "LOO RMSE",
            "sets",
        ]
        for name, fit in sorted(regressions[score].items()):
            if fit.get("defined"):
                r, rho = fit["intervals"]["pearson_r"], fit["intervals"]["spearman_rho"]
                values = [
                    number(fit["slope"]),
                    f"{number(fit['pearson_r'])} [{number(r[0])}, {number(r[1])}]",
                    number(fit["p_value"]),
                    f"{number(fit['spearman_rho'])} [{number(rho[0])}, {number(rho[1])}]",
                    number(fit["loo_rmse"]),
                    fit["points"],
                ]
                fits.append(dict(zip(columns, [name, *values], strict=True)))
            else:
                fits.append({"relation": name, "slope": f"undefined: {fit.get('reason')}"})
        lines += table(fits, columns)
    return lines


def mixes_section(derivation: Mapping, mix_table: Mapping[str, Mapping]) -> list[str]:
    """The derived mixes, ability by ability, and the Table 3 analogue over replicates: a change is
    marked (↑ or ↓) only when its interval over the paired replicates excludes zero."""
    lines = ["## Derived mixes (Section 5.2)", ""]
    lines.append(f"Baseline: {derivation['baseline']['subset']} ({derivation['baseline']['total']} items).")
    rows = [
        {
            "ability": display_name(ability),
            "read on": SCORES[rule.get("score", "acc")],
            "class": rule["class"],
            "rule": rule["rule"],
            "why": rule["reason"],
            "Reconstruct": derivation["reconstruct"]["sizes"][ability],
            "Maximum": derivation["maximum"]["sizes"][ability],
        }
        for ability, rule in derivation["abilities"].items()
    ]
    lines += table(rows, list(rows[0]))
    kept = [display_name(a) for a, r in derivation["abilities"].items() if r["rule"] == "baseline"]
    if kept:
        lines += [f"Kept at the Baseline for lack of evidence: {', '.join(kept)}.", ""]
    keys = [k for k in mix_table["baseline"] if k == "overall" or k.startswith("benchmark.")]
    lines.append(
        "Overall score and benchmarks at the best checkpoint, means over the replicates (the Table 3 "
        "analogue); each mix's change over the Baseline is the mean of the paired differences with its "
        "interval, marked only when the interval excludes zero:"
    )
    rows = [
        {"mix": name, "replicates": row["replicates"], "items": row["train_examples"]}
        | {k: _change_cell(row, k) for k in keys}
        for name, row in mix_table.items()
    ]
    return lines + table(rows, ["mix", "replicates", "items", *keys])


def _change_cell(row: Mapping, key: str) -> str:
    text = f"{row[key]:.4f}"
    if f"{key}.change" not in row:
        return text
    text += f" ({row[f'{key}.change']:+.4f}"
    if f"{key}.change_low" in row:
        text += f" [{row[f'{key}.change_low']:+.4f}, {row[f'{key}.change_high']:+.4f}]"
        if row[f"{key}.change_beyond_noise"]:
            text += " ↑" if row[f"{key}.change"] > 0 else " ↓"
    return text + ")"


DESIGN_TITLES = {
    "flan": "FLAN: held-out score against task count, with and without chain of thought",
    "limit": "LIMIT: benchmarks and a model judge against data size and style",
}


def judge_table(judge: Mapping[str, float]) -> list[str]:
    """Per judged setting: its win rate against the reference with the interval, and every count,
    unreadable verdicts included (they are reported, never scored)."""
    settings = sorted({key.split(".all.")[0] for key in judge if ".all." in key})
    rows = []
    for name in settings:
        get = {k.split(".all.")[1]: v for k, v in judge.items() if k.startswith(f"{name}.all.")}
        rate = get.get("win_rate")
        band = f" [{get['win_rate_low']:.3g}, {get['win_rate_high']:.3g}]" if "win_rate_low" in get else ""
        counts = ["win", "tie", "inconsistent", "loss", "unparsable"]
        rows.append(
            {
                "setting": name,
                "win rate": f"{rate:.3g}{band}" if rate is not None else "none: no verdict read",
            }
            | {c: int(get.get(c, 0)) for c in counts}
            | {"items": int(get.get("items", 0))}
        )
    intro = (
        "Model judge, both orders per item (inconsistent orders count as ties; unreadable verdicts apart):"
    )
    return ["", intro, *table(rows, list(rows[0]))] if rows else []


def design_section(inputs: ReportInputs) -> list[str]:
    """The design grid's points (seed means with the lowest and highest seed) and each of its sets'
    sensitivities along the design's factors, with their verdicts."""
    from doit_study.analysis.figures import DESIGN_AXES, DESIGN_PANELS

    x, line, label = DESIGN_AXES[inputs.design]
    lines = [f"## {DESIGN_TITLES[inputs.design]}", ""]
    lines.append(f'<figure><img src="figures/design_{inputs.design}.png" alt="{inputs.design}">')
    lines.append(
        f"<figcaption>{DESIGN_TITLES[inputs.design]}: x = {label} (log-2 axis), one line per model "
        f"size and {line.replace('_', ' ')}, seed band; docs/designs.md.</figcaption></figure>"
    )
    rows = []
    points = inputs.design_points
    for name, score, title in DESIGN_PANELS[inputs.design]:
        mine = points[(points["ability"] == name) & (points["score"] == score)] if points is not None else []
        for row in mine.sort_values(["parameters", line, x]).itertuples() if len(mine) else []:
            cell = f"{row.mean:.3g} [{row.min:.3g}, {row.max:.3g}]" if row.seeds > 1 else f"{row.mean:.3g}"
            # FLAN's normalised score: 0 at a random guess, 1 at every item right
            above = (row.mean - row.random) / (1 - row.random) if score == "acc" and row.random < 1 else None
            rows.append(
                {
                    "panel": title,
                    "size": row.size,
                    line: number(getattr(row, line)),
                    label: number(getattr(row, x)),
                    "seeds": row.seeds,
                    "score": cell,
                    "chance": number(row.random),
                    "normalised": number(above),
                }
            )
    lines += (
        table(rows, ["panel", "size", line, label, "seeds", "score", "chance", "normalised"])
        if rows
        else ["", "Nothing measured.", ""]
    )
    if inputs.judge:
        lines += judge_table(inputs.judge)
    axes = [
        a
        for a in ("param", "data", "tasks", "cot", "open")
        if any(a in e.get("acc", {}) for e in inputs.sensitivity.values())
    ]
    fits = []
    for name in [n for n, _, _ in DESIGN_PANELS[inputs.design] if n in inputs.sensitivity]:
        entry = inputs.sensitivity[name]
        for score in SCORES:
            fits.append(
                {"set": display_name(name), "score": SCORES[score]}
                | {AXES_LABELS[a]: fit_cell(entry[score].get(a, {})) for a in axes}
            )
    return lines + table(fits, ["set", "score", *(AXES_LABELS[a] for a in axes)]) if fits else lines


def report_markdown(inputs: ReportInputs) -> str:
    title = {"doit": "DoIT study report"}.get(inputs.design, f"{inputs.design.upper()} design study report")
    lines = [f"# {title}", "", "## What was run", ""]
    lines += [f"- {key}: {value}" for key, value in inputs.provenance.items()]
    lines += ["", *noise_section(inputs)]
    lines += forecast_section(inputs.forecast)
    if inputs.design in DESIGN_TITLES:
        lines += design_section(inputs)
    lines += figures_section([f for f in inputs.figures if not f.startswith("design_")])
    lines += scores_section(inputs.sensitivity, inputs.level)
    lines += features_section(inputs.features, inputs.regressions)
    if inputs.derivation and inputs.mix_table:
        lines += mixes_section(inputs.derivation, inputs.mix_table)
    if inputs.design != "doit":  # the DoIT paper's findings are about its own grid
        lines += ["## What this run can and cannot show", "", *(f"- {limit}" for limit in inputs.limits)]
        return "\n".join(lines) + "\n"
    rows = [
        {
            "topic": topic,
            "the paper": finding,
            "this run": this_run(
                topic, sets, inputs.sensitivity, inputs.regressions, inputs.overall, inputs.mix_table
            ),
        }
        for topic, finding, sets in PAPER_FINDINGS
    ]
    lines += ["## The paper's findings beside this run", *table(rows, ["topic", "the paper", "this run"])]
    lines += ["## What this run can and cannot show", ""]
    lines += [f"- {limit}" for limit in inputs.limits]
    return "\n".join(lines) + "\n"


def render_html(markdown: str, title: str = "DoIT study report") -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    head = f'<head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>'
    return f"<!doctype html>\n<html>{head}\n<body>\n{body}</body></html>\n"
