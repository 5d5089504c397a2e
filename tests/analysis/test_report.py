"""What the analysis may claim in words (findings) and the report built from it: its sections, the
correction stated, the verdicts, artefacts, mixes marked only beyond noise, and the HTML rendering;
on the synthetic study of tests/analysis/conftest.py."""

import numpy as np
import pandas as pd
import pytest

from doit_study.analysis.findings import (
    artefact_flags,
    budget_limits,
    fit_cell,
    number,
    regression_cell,
    run_limits,
    verdict_counts,
)
from doit_study.analysis.mixes import ability_rules, derive_mixes, mix_table
from doit_study.analysis.report import ReportInputs, render_html, report_markdown
from doit_study.analysis.scaling import features_on_scores
from doit_study.analysis.study_table import plot_tables
from doit_study.core.schema import ABILITIES
from tests.analysis.synthetic import TRUTHS


def _features(sets: dict) -> tuple[dict, dict]:
    """Complexity and Transference from made-up single-ability runs of every synthetic set."""
    rng = np.random.default_rng(0)
    names = sorted(TRUTHS)
    rows = [
        {
            "pool": f"only-{j}",
            "ability": i,
            "loss": 1.0 + rng.random(),
            "acc": rng.random(),
            "continuous": rng.random(),
        }
        for j in names
        for i in names
    ]
    foundation = {f"test.{a}.{s}": 0.1 for a in names for s in ("acc", "continuous")}
    resampling = {"replicates": 50, "seed": 0, "level": 0.95}
    return features_on_scores(
        names, pd.DataFrame(rows), foundation, sets, {"w1": 1, "w2": 1, "w": 1}, resampling
    )


def _mixes(sets: dict) -> tuple[dict, dict]:
    rules = ability_rules(sets, {40.0: 4, 160.0: 16, 640.0: 64}, 1, 64, 0.02)
    sizes = derive_mixes(rules, 640, dict.fromkeys(ABILITIES, 1000), None)
    derivation = {"baseline": {"subset": "curated-n64", "total": 640}, "abilities": rules}
    derivation |= {name: {"sizes": found} for name, found in sizes.items()}

    def metrics(overall, x):
        return {"train_examples": 640, "overall": overall, "benchmark.x.0shot.acc": x}

    baselines = {"r0": metrics(0.30, 0.40), "r1": metrics(0.32, 0.42), "r2": metrics(0.34, 0.44)}
    # overall gains in every replicate but within noise; benchmark x gains beyond it
    runs = {"r0": metrics(0.31, 0.420), "r1": metrics(0.35, 0.441), "r2": metrics(0.36, 0.459)}
    return derivation, mix_table(baselines, {"reconstruct": runs}, 0.95)


@pytest.fixture(scope="module")
def inputs(study, analysed) -> ReportInputs:
    grid, _ = study
    sets = analysed["sets"]
    features, regressions = _features(sets)
    derivation, table = _mixes(sets)
    overall = plot_tables(grid, dict.fromkeys(grid["setting"], 0.3), {})["overall"]
    return ReportInputs(
        provenance={"data source": "synthetic"},
        overall=overall,
        sensitivity=sets,
        correction=analysed["correction"],
        features=features,
        regressions=regressions,
        figures=["sensitivities.png", "fig1_overall.png"],
        limits=[*run_limits(sets, grid), "a limit of this run"],
        derivation=derivation,
        mix_table=table,
        level=0.95,
    )


def test_the_report_has_its_sections_in_order(inputs):
    text = report_markdown(inputs)
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "## What was run",
        "## What this study can claim",
        "## Figures",
        "## Sensitivities on each score",
        "## Features and their regression (Figure 7)",
        "## Derived mixes (Section 5.2)",
        "## The paper's findings beside this run",
        "## What this run can and cannot show",
    ]
    assert "- data source: synthetic" in text and "- a limit of this run" in text
    figures = [line for line in text.splitlines() if line.startswith("<figure>")]
    assert [f.split('"')[1] for f in figures] == ["figures/fig1_overall.png", "figures/sensitivities.png"]


def test_the_report_states_the_interval_and_the_correction_it_read_the_verdicts_with(inputs):
    text = report_markdown(inputs)
    assert (
        "Beyond noise means a 95% Student t interval over the foundation models (docs/analysis.md) read "
        "with the Benjamini-Hochberg correction at a false discovery rate of 5% over all 28 sensitivity "
        "intervals (sets × scores × factors)"
    ) in text
    assert "Not in that family, and read one at a time: Figure 7's correlations" in text
    # accuracy, by the truth: size rises for biology and history; data rises for biology and
    # reasoning and falls for maths; role-play is within noise on both; the others are flat
    assert (
        "On the accuracy: 2 of 7 model size sensitivities beyond noise (4 flat, 1 within noise); "
        "3 of 7 data volume sensitivities beyond noise (3 flat, 1 within noise)."
    ) in text
    assert "Chain of thought (maths) falls with data volume on the accuracy: " in text
    assert "STEM (biology) rises with model size on the accuracy: " in text
    assert "Role-play chat rises" not in text and "Ethics rises" not in text


def test_the_report_flags_foundations_beyond_chance_and_reads_each_class(inputs):
    text = report_markdown(inputs)
    assert artefact_flags(inputs.sensitivity) == [
        line.removeprefix("- ")
        for line in text.splitlines()
        if line.startswith("- Code generation: the untuned")
    ]
    assert (
        "Code generation: the untuned foundations score 0.600 against a chance of 0.250 (360 of 600 answers"
        in text
    )
    assert "Ethics: the untuned" not in text
    biology, maths = _cells(text, "STEM (biology)"), _cells(text, "Chain of thought (maths)")
    assert biology[-1] == "responsive" and maths[-1] == "declining"
    assert biology[-2] == "1 [1, 1] over 3 pairs"  # decision accuracy with its interval
    assert _cells(text, "Role-play chat")[-1] == "undetermined"


def _cells(text: str, first: str) -> list[str]:
    """The cells of the first table row of the report that starts with `first`."""
    row = next(line for line in text.splitlines() if line.startswith(f"| {first} "))
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_mixes_are_marked_only_where_the_paired_interval_excludes_zero(inputs):
    text = report_markdown(inputs)
    overall, benchmark = _cells(text, "reconstruct")[3:5]
    assert overall.startswith("0.3400 (+0.0200 [") and overall.endswith("])")  # no mark: within noise
    assert benchmark.startswith("0.4400 (+0.0200 [+0.0175, +0.0225]") and benchmark.endswith(" ↑)")
    assert "reconstruct benchmark.x.0shot.acc +0.0200 [+0.0175, +0.0225] (beyond noise)" in text
    assert "reconstruct benchmark.x.0shot.acc" in text and "Kept at the Baseline for lack of evidence" in text


def test_the_features_section_gives_both_correlations_with_their_intervals(inputs):
    text = report_markdown(inputs)
    assert "Pearson r [interval]" in text and "Spearman rho [interval]" in text
    fit = inputs.regressions["acc"]["complexity_vs_param"]
    low, high = fit["intervals"]["spearman_rho"]
    assert f"{number(fit['spearman_rho'])} [{number(low)}, {number(high)}]" in text


def test_html_is_styled_and_holds_the_tables(inputs):
    html = render_html(report_markdown(inputs))
    assert html.startswith("<!doctype html>") and "<style>" in html and "border-collapse" in html
    assert (
        "<table>" in html and "<h2>What this study can claim</h2>" in html and "a limit of this run" in html
    )


def test_another_design_reports_its_grid_and_leaves_out_the_papers_findings(inputs):
    from dataclasses import replace

    text = report_markdown(replace(inputs, design="limit", derivation=None, mix_table=None))
    assert text.startswith("# LIMIT design study report")
    assert "## LIMIT: benchmarks and a model judge against data size and style" in text
    assert "Nothing measured." in text and "## The paper's findings beside this run" not in text


def test_cells_and_counts_say_what_is_undetermined_and_why():
    assert fit_cell({"defined": False, "reason": "one size"}) == "undetermined (one size)"
    fit = {"defined": True, "alpha": 0.05, "low": 0.01, "high": 0.09, "p_adjusted": 0.004, "verdict": "rises"}
    assert fit_cell(fit) == "0.05 [0.01, 0.09], p_adj 0.004: rises"
    assert number(None) == number(float("nan")) == "–"
    sensitivity = {
        "a": {"acc": {"param": {"verdict": "rises"}}, "continuous": {"param": {"verdict": "flat"}}},
        "b": {"acc": {"param": {}}, "continuous": {"param": {"verdict": "flat"}}},
    }
    assert verdict_counts(sensitivity) == {
        "acc": {"param": {"rises": 1, "undetermined": 1}},
        "continuous": {"param": {"flat": 2}},
    }
    undefined = {"defined": False, "reason": "2 points"}
    weak = {"defined": True, "pearson_r": 0.3, "spearman_rho": 0.2, "p_value": 0.4, "points": 5}
    weak["intervals"] = {"pearson_r": [-0.5, 0.9], "spearman_rho": [-0.6, 0.9]}
    cell = regression_cell({"acc": {"k": weak}, "continuous": {"k": undefined}}, "k")
    assert "r = 0.30 [-0.50, 0.90], rho = 0.20 [-0.60, 0.90]" in cell and "within noise (p ≥ 0.05)" in cell
    assert "continuous score: undefined (2 points)" in cell


def test_budget_limits_call_a_kind_unscorable_when_its_budget_cuts_most_gold_answers():
    settings = {
        "a": {"budget.code.tokens": 64, "budget.code.gold_fit": 0.4, "budget.letter.tokens": 8},
        "b": {"budget.code.tokens": 128, "budget.code.gold_fit": 0.45, "budget.letter.gold_fit": 1.0},
    }
    lines = budget_limits(settings)
    assert lines[0].startswith("code answers cannot be scored: their budget of 128 new tokens holds only 40%")
    assert lines[1] == "letter answers had up to 8 new tokens, enough for 100% of the gold answers."


def test_figure7_gives_every_regressed_set_its_own_colour_and_marker():
    """Twelve sets: past the ten default colours a set takes another marker, so no two look alike
    and the legend names each once."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from doit_study.analysis.figures import figure7

    names = [f"set{k:02d}" for k in range(12)]
    interval = {"normalised": 0.5, "normalised_interval": (0.4, 0.6)}
    sensitivity = {
        n: {s: {"param": interval, "data": interval} for s in ("acc", "continuous")} for n in names
    }
    values = {n: float(k) for k, n in enumerate(names)}
    fit = {"abilities": names, "defined": True, "intercept": 0.0, "slope": 0.0, "pearson_r": 0.0}
    fit |= {"p_value": 1.0, "points": 12}
    features = {key: {"complexity": values, "transference": values} for key in ("acc", "continuous")}
    regressions = {
        key: {"complexity_vs_param": fit, "transference_vs_data": fit} for key in ("acc", "continuous")
    }
    figure = pyplot.figure()
    figure7(sensitivity, features, regressions)(figure)
    (legend,) = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    points = [c.lines[0] for c in figure.axes[0].containers]  # each set's errorbar: its marker line
    looks = {(line.get_color(), line.get_marker()) for line in points}
    pyplot.close(figure)
    assert labels == names and len(looks) == 12
