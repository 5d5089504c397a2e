"""The study report: metrics/report.md and its HTML rendering (a small stylesheet, captioned figures
sized to the page), leading with what the run can tell from noise. Everything is drawn from the
analysis outputs (tables through pandas); nothing is smoothed or made up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from doit_study.analysis.findings import AXES as AXES_LABELS
from doit_study.analysis.findings import (
    PAPER_FINDINGS,
    SCORES,
    effect_sentences,
    fit_cell,
    fitted_axes,
    number,
    this_run,
)
from doit_study.core.schema import display_name

CAPTIONS = {
    "fig1_overall.png": "Figure 1. Overall test accuracy against items per ability (log-4 axis), one "
    "line per model size; each point is the mean over its seeds, the band spans the lowest to the "
    "highest seed, the dotted line is the random-guess level.",
    "fig2_6_accuracy.png": "Figures 2-6. Each set's test accuracy against items per ability, drawn as "
    "Figure 1.",
    "fig2_6_continuous.png": "Figures 2-6, continuous score. The gold answer's probability among the "
    "options, its log-likelihood margin over the distractors, or minus its negative log-likelihood per "
    "byte (docs/evaluation.md); the dotted line is the random-guess level where the score has one.",
    "sensitivities.png": "Normalised sensitivities to model size and data volume on each score with "
    "their intervals (items and seeds resampled), on the scale of the normalisation.",
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
    sensitivity: Mapping[str, dict]
    features: Mapping[str, Mapping]  # per score
    regressions: Mapping[str, Mapping]  # per score
    figures: Sequence[str]
    limits: Sequence[str]
    derivation: Mapping | None = None
    mix_table: Mapping | None = None
    level: str = field(default="")
    design: str = "doit"
    design_points: pd.DataFrame | None = None  # figures.design_points, for flan and limit
    judge: Mapping[str, float] | None = None  # metrics/judge.json


def table(rows: Sequence[Mapping], columns: Sequence[str]) -> list[str]:
    frame = pd.DataFrame(rows, columns=list(columns)).astype(object).fillna("")
    return ["", frame.astype(str).to_markdown(index=False, disable_numparse=True), ""]


def noise_section(inputs: ReportInputs) -> list[str]:
    lines = ["## What is distinguishable from noise", ""]
    lines += [f"- {sentence}" for sentence in effect_sentences(inputs.sensitivity, inputs.level)]
    lines += [
        "",
        "Each set is read on the score with the higher signal-to-noise (its spread across the grid over "
        "its seed noise); an effect whose interval includes zero is within noise.",
    ]
    rows = []
    axes = fitted_axes(inputs.sensitivity)
    for name, entry in sorted(inputs.sensitivity.items()):
        main = entry[entry["score"]]
        rows.append(
            {
                "set": display_name(name),
                "read on": SCORES[entry["score"]],
                "SNR accuracy": number(entry["acc"].get("snr")),
                "SNR continuous": number(entry["continuous"].get("snr")),
            }
            | {AXES_LABELS[a]: fit_cell(main.get(a, {})) for a in axes}
            | {
                "decision accuracy": number(main.get("decision_accuracy")),
                "class": entry["class"] + (" (all within noise)" if _within_noise(main, axes) else ""),
            }
        )
    return lines + table(rows, list(rows[0]) if rows else ["set"])


def _within_noise(block: Mapping, axes: Sequence[str]) -> bool:
    """No sensitivity's interval excludes zero: a class read from such point estimates is noise."""
    return not any(block.get(axis, {}).get("interval", {}).get("excludes_zero") for axis in axes)


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


def scores_section(sensitivity: Mapping[str, dict], level: str) -> list[str]:
    lines = ["## Sensitivities on each score", ""]
    lines.append(
        f"alpha per log N or log D (per unit of a share), {level}interval from resampling test items and "
        "seeds together."
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
            | {"class": entry[score].get("class", "undefined")}
            for name, entry in sorted(sensitivity.items())
        ]
        lines += ["", f"### {label.capitalize()}", *table(rows, list(rows[0]) if rows else ["set"])]
    rows = [
        {
            "set": display_name(name),
            "score": SCORES[score],
            "family": entry[score].get("family", "exact match"),
            "seeds per point": "/".join(map(str, entry[score].get("seeds_per_point", []))),
            "seed SD": number(entry[score].get("noise", {}).get("seeds")),
            "epoch SD (valid)": number(entry[score].get("noise", {}).get("epochs")),
            "signal": number(entry[score].get("signal")),
            "SNR": number(entry[score].get("snr")),
            "decision accuracy": number(entry[score].get("decision_accuracy")),
        }
        for name, entry in sorted(sensitivity.items())
        for score in SCORES
    ]
    return [*lines, "", "### Noise and signal", *table(rows, list(rows[0]) if rows else ["set"])]


def features_section(features: Mapping[str, Mapping], regressions: Mapping[str, Mapping]) -> list[str]:
    lines = ["## Features and their regression (Figure 7)", ""]
    lines.append(
        "On the continuous score, differences are in each set's seed-noise units (docs/analysis.md)."
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
        for name, fit in sorted(regressions[score].items()):
            if fit.get("defined"):
                keys = ("slope", "pearson_r", "r2", "p_value", "loo_rmse", "points")
                fits.append({"relation": name} | {k: number(fit[k]) for k in keys})
            else:
                fits.append({"relation": name, "slope": f"undefined: {fit.get('reason')}"})
        lines += table(fits, ["relation", "slope", "pearson_r", "r2", "p_value", "loo_rmse", "points"])
    return lines


def mixes_section(derivation: Mapping, mix_table: Mapping[str, Mapping]) -> list[str]:
    """The derived mixes, ability by ability, and the Table 3 analogue (↑: a gain over the Baseline)."""
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
    keys = [k for k in mix_table["baseline"] if k == "overall" or k.startswith("benchmark.")]
    lines.append("Benchmarks and overall score at the best checkpoint (the Table 3 analogue):")
    rows = [
        {"mix": name, "items": row["train_examples"]}
        | {k: f"{row[k]:.4f}" + (" ↑" if row.get(f"{k}.change", 0) > 0 else "") for k in keys}
        for name, row in mix_table.items()
    ]
    return lines + table(rows, ["mix", "items", *keys])


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
