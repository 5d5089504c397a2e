"""The figures (PNG), analogues of the paper's Figures 1-7, drawn from the plot tables and the
analysis as measured: nothing is smoothed. The x axis of a scaling curve is items per ability on a
log-4 axis ticked at the profile's values; one line per model size, the seeds' spread (lowest to
highest) as a band, the random-guess level as a grey dotted line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from doit_study.schema import display_name

SCORE_LABELS = {"acc": "test accuracy", "continuous": "continuous score"}


def _figure(path: Path, draw, size: tuple[float, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure = pyplot.figure(figsize=size, layout="constrained")
    draw(figure)
    figure.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: same data, same bytes
    pyplot.close(figure)


def _scaling_axes(axes, table: pd.DataFrame, y: str) -> None:
    """One line per series with its seed band; the chance level dotted; log-4 x ticked at the data."""
    ordered = table.sort_values(["parameters", "series", "n_per_ability"], kind="stable")
    for k, (series, rows) in enumerate(ordered.groupby("series", sort=False)):
        color = f"C{k}"
        axes.fill_between(
            rows["n_per_ability"], rows["seed_min"], rows["seed_max"], color=color, alpha=0.2, lw=0
        )
        axes.plot(rows["n_per_ability"], rows[y], marker="o", ms=3, color=color, label=series)
    chance = table["random"].dropna()
    if len(chance):
        axes.axhline(float(chance.iloc[0]), color="grey", ls=":", lw=1, label="random guess")
    ticks = sorted(int(n) for n in table["n_per_ability"].unique())
    axes.set_xscale("log", base=4)
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.minorticks_off()
    axes.set_xlabel("items per ability")


def _legend(figure, where: str = "outside lower center") -> None:
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc=where, ncols=len(labels), fontsize=8, frameon=False)


def overall_figure(table: pd.DataFrame):
    def draw(figure):
        axes = figure.add_subplot()
        _scaling_axes(axes, table, "overall")
        axes.set_ylabel("overall test accuracy")
        _legend(figure)

    return draw


def abilities_figure(tables: Mapping[str, pd.DataFrame], score: str):
    def draw(figure):
        names = sorted(tables)
        columns = 4
        for k, name in enumerate(names):
            axes = figure.add_subplot((len(names) + columns - 1) // columns, columns, k + 1)
            _scaling_axes(axes, tables[name], score)
            axes.set_title(display_name(name), fontsize=9)
            axes.tick_params(labelsize=7)
            axes.set_xlabel("")
        if names:
            figure.supxlabel("items per ability", fontsize=9)
            figure.supylabel(SCORE_LABELS[score], fontsize=9)
            _legend(figure, "outside upper center")

    return draw


def _interval_bars(block: Mapping, axis: str) -> tuple[float, float, float]:
    """(value, below, above) of a normalised sensitivity with its interval (0, 0 when none)."""
    fit = block.get(axis, {})
    value = fit.get("normalised")
    if value is None:
        return 0.0, 0.0, 0.0
    low, high = fit.get("normalised_interval", (value, value))
    return value, max(value - low, 0.0), max(high - value, 0.0)


def sensitivities_figure(sensitivity: Mapping[str, dict]):
    def draw(figure):
        names = sorted(sensitivity)
        for row, score in enumerate(("acc", "continuous")):
            axes = figure.add_subplot(2, 1, row + 1)
            for offset, axis, label in ((-0.2, "param", "model size"), (0.2, "data", "data volume")):
                bars = [_interval_bars(sensitivity[n][score], axis) for n in names]
                axes.bar(
                    [k + offset for k in range(len(names))],
                    [b[0] for b in bars],
                    width=0.4,
                    yerr=[[b[1] for b in bars], [b[2] for b in bars]],
                    capsize=2,
                    label=label,
                )
            axes.set_xticks(
                range(len(names)), [display_name(n) for n in names], rotation=30, ha="right", fontsize=7
            )
            axes.set_ylabel(f"normalised, {SCORE_LABELS[score]}", fontsize=8)
        _legend(figure)

    return draw


def figure7(
    sensitivity: Mapping[str, dict], features: Mapping[str, Mapping], regressions: Mapping[str, Mapping]
):
    """Complexity against size sensitivity and Transference against data sensitivity, on each score,
    with every sensitivity's interval and the least-squares line; sets told apart by colour."""
    pairs = (("complexity", "param", "complexity_vs_param"), ("transference", "data", "transference_vs_data"))
    names = sorted(sensitivity)
    colours = {name: f"C{k % 10}" for k, name in enumerate(names)}

    def draw(figure):
        for row, score in enumerate(("acc", "continuous")):
            for column, (feature, axis, key) in enumerate(pairs):
                axes = figure.add_subplot(2, 2, 2 * row + column + 1)
                fit, values = regressions[score].get(key, {}), features[score].get(feature, {})
                for name in fit.get("abilities", []):
                    value, below, above = _interval_bars(sensitivity[name][score], axis)
                    axes.errorbar(
                        values[name],
                        value,
                        yerr=[[below], [above]],
                        fmt="o",
                        ms=4,
                        capsize=2,
                        color=colours[name],
                        label=display_name(name),
                    )
                if fit.get("defined"):
                    xs = sorted(values[a] for a in fit["abilities"])
                    line = [xs[0], xs[-1]]
                    axes.plot(line, [fit["intercept"] + fit["slope"] * x for x in line], color="grey", lw=1)
                    stat = f"r = {fit['pearson_r']:.2f}, p = {fit['p_value']:.3f}, n = {fit['points']}"
                else:  # the reason's head ("2 points"); the whole reason is in regression.json
                    stat = f"undefined: {fit.get('reason', 'no data').split(':')[0]}"
                axes.set_title(SCORE_LABELS[score], fontsize=9)
                axes.text(0.02, 0.97, stat, transform=axes.transAxes, va="top", fontsize=7)
                axes.ticklabel_format(axis="x", useOffset=False)
                axes.set_xlabel(feature, fontsize=8)
                axes.set_ylabel(f"normalised {'size' if axis == 'param' else 'data'} sensitivity", fontsize=8)
                axes.tick_params(labelsize=7)
        seen = {}
        for axes in figure.axes:
            for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
                seen.setdefault(label, handle)
        figure.legend(list(seen.values()), list(seen), loc="outside right center", fontsize=7, frameon=False)

    return draw


def draw_figures(
    folder: Path,
    tables: Mapping,
    sensitivity: Mapping[str, dict],
    features: Mapping[str, Mapping],
    regressions: Mapping[str, Mapping],
) -> list[str]:
    """Write the PNGs into `folder`; return their file names. `tables`: the plot tables, `overall`
    and per score (`acc`, `continuous`) one frame per set."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "fig1_overall.png": (overall_figure(tables["overall"]), (6.0, 4.0)),
        "fig2_6_accuracy.png": (abilities_figure(tables["acc"], "acc"), (11.0, 7.5)),
        "fig2_6_continuous.png": (abilities_figure(tables["continuous"], "continuous"), (11.0, 7.5)),
        "sensitivities.png": (sensitivities_figure(sensitivity), (9.0, 6.0)),
        "fig7_features.png": (figure7(sensitivity, features, regressions), (11.0, 7.5)),
    }
    for name, (draw, size) in figures.items():
        _figure(folder / name, draw, size)
    return list(figures)
