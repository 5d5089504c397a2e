"""The report from the analysis of a synthetic grid: it leads with what is distinguishable from
noise, calls an effect within noise that, states undefined values with their reasons, captions its
figures and renders to styled HTML."""

import pandas as pd

from doit_study.analysis.figures import draw_figures, figure7
from doit_study.analysis.findings import effect_counts, verdict
from doit_study.analysis.report import ReportInputs, render_html, report_markdown
from doit_study.analysis.scaling import features_on_scores, item_frame, sensitivities
from doit_study.analysis.study_table import plot_tables
from tests.analysis.test_scaling import BOOT, THRESHOLDS, _grid, _known


def _analysed():
    grid, records, epochs = _grid(["math", "code"], seeds=3, score_of=_known(noise_sd=0.02))
    sensitivity = sensitivities(grid, item_frame(records), epochs, BOOT, THRESHOLDS)
    single = pd.DataFrame(columns=["pool", "ability", "loss", "acc", "continuous"])
    features, regressions = features_on_scores(
        ["math", "code"], single, {}, sensitivity, {"w1": 1, "w2": 1, "w": 1}
    )
    return grid, sensitivity, features, regressions


def test_verdicts_and_counts_say_which_effects_exceed_noise():
    _, sensitivity, _, _ = _analysed()
    counts = effect_counts(sensitivity)
    assert counts["continuous"]["data"] == (2, 2)  # the known slope, on both sets
    assert counts["acc"]["data"] == (0, 2)  # accuracy is flat
    assert verdict(sensitivity["math"]["continuous"]["data"]) == "rises"
    assert verdict(sensitivity["math"]["acc"]["data"]) == "within noise"
    assert verdict({"defined": False, "reason": "one size"}) == "undefined (one size)"


def test_report_leads_with_noise_captions_figures_and_renders_styled_html(tmp_path):
    grid, sensitivity, features, regressions = _analysed()
    tables = plot_tables(grid, dict.fromkeys(grid["setting"], 0.3), {})
    figure_tables = {
        "overall": tables["overall"],
        "acc": {a: f.drop(columns="ability") for a, f in tables["acc"].groupby("ability")},
        "continuous": {a: f.drop(columns="ability") for a, f in tables["continuous"].groupby("ability")},
    }
    names = draw_figures(tmp_path, figure_tables, sensitivity, features, regressions)
    assert all((tmp_path / name).stat().st_size > 10_000 for name in names)
    inputs = ReportInputs(
        provenance={"data source": "test"},
        overall=tables["overall"],
        sensitivity=sensitivity,
        features=features,
        regressions=regressions,
        figures=names,
        limits=["a limit"],
        level="95% ",
    )
    text = report_markdown(inputs)
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## What was run", "## What is distinguishable from noise"]
    assert "On the continuous score, 2 of 2 model size sensitivities" not in text  # size is flat too
    assert "2 of 2 data volume sensitivities have a 95% interval that excludes zero" in text
    assert "within noise" in text and "Complexity and Transference undefined: fewer than two" in text
    assert "<figcaption>Figure 1." in text and "undefined: complexity is undefined" in text
    html = render_html(text)
    assert "<style>" in html and "border-collapse" in html and "<table>" in html and "a limit" in html
    assert 'img src="figures/fig1_overall.png"' in html


def test_figure7_gives_every_regressed_set_its_own_colour_and_marker():
    """Twelve sets: past the ten default colours a set takes another marker, so no two look alike
    and the legend names each once."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

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
