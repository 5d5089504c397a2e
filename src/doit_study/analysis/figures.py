"""The figures (PNG), analogues of the paper's Figures 1-7, drawn from the plot tables and the
analysis as measured: nothing is smoothed. The x axis of a scaling curve is items per ability on a
log-4 axis ticked at the profile's values; one line per model size, the seeds' spread (lowest to
highest) as a band, the random-guess level as a grey dotted line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from doit_study.core.schema import display_name

SCORE_LABELS = {"acc": "test accuracy", "continuous": "continuous score"}


def save_figure(path: Path, draw, size: tuple[float, float]) -> None:
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


def marker_styles(names: list[str]) -> dict[str, tuple[str, str]]:
    """A colour and marker per set, no two alike: the ten default colours, then another marker."""
    markers = "osD^v"
    return {name: (f"C{k % 10}", markers[k // 10 % len(markers)]) for k, name in enumerate(names)}


def figure7(
    sensitivity: Mapping[str, dict], features: Mapping[str, Mapping], regressions: Mapping[str, Mapping]
):
    """Complexity against size sensitivity and Transference against data sensitivity, on each score,
    with every sensitivity's interval and the least-squares line; sets told apart by colour and marker."""
    pairs = (("complexity", "param", "complexity_vs_param"), ("transference", "data", "transference_vs_data"))
    fitted = sorted(
        {a for score in regressions.values() for fit in score.values() for a in fit.get("abilities", [])}
    )
    styles = marker_styles(fitted)

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
                        fmt=styles[name][1],
                        ms=4,
                        capsize=2,
                        color=styles[name][0],
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


# per design, the panels of its figure: (set, score, title); x is its first grid factor, one line per
# model size and value of its second (docs/designs.md)
DESIGN_PANELS = {
    "flan": (
        ("unseen_tasks", "acc", "held-out tasks, accuracy"),
        ("math.direct", "continuous", "maths, direct prompting (continuous)"),
        ("math.cot", "continuous", "maths, chain-of-thought prompting (continuous)"),
    ),
    "limit": (
        ("overall", "acc", "benchmarks: overall test accuracy"),
        ("judge", "acc", "model judge: win rate against the reference"),
    ),
}
DESIGN_AXES = {
    "flan": ("task_count", "cot_ratio", "tasks trained"),
    "limit": ("data_volume", "open_ratio", "items"),
}


def design_points(study: pd.DataFrame, design: str) -> pd.DataFrame:
    """The design grid's test scores per (set, size, x, line): seed mean, lowest and highest seed,
    and the mean chance level. `overall` is the mean over a setting's test sets, as in its metrics."""
    x, line, _ = DESIGN_AXES[design]
    kind = {"flan": "tasks", "limit": "style"}[design]
    test = study[(study["split"] == "test") & (study["kind"] == kind)]
    sets = ~test["ability"].isin(["unseen_tasks", "judge"]) & ~test["ability"].str.contains(".", regex=False)
    per_setting = [
        c for c in test.columns if c not in ("ability", "label", "loss", "continuous", "continuous_random")
    ]
    per_setting = [c for c in per_setting if c not in ("acc", "random")]
    overall = test[sets].groupby(per_setting, dropna=False)[["acc", "random"]].mean().reset_index()
    frame = pd.concat([test, overall.assign(ability="overall")], ignore_index=True)
    keys = ["ability", "size", "parameters", x, line]
    rows = []
    for score in ("acc", "continuous"):
        scored = frame.dropna(subset=[score])
        part = scored.groupby(keys, dropna=False)[score].agg(["mean", "min", "max", "count"]).reset_index()
        chance = scored.groupby(keys, dropna=False)[
            "random" if score == "acc" else "continuous_random"
        ].mean()
        rows.append(part.assign(score=score, random=chance.to_numpy()))
    return pd.concat(rows, ignore_index=True).rename(columns={"count": "seeds"})


def design_figure(points: pd.DataFrame, design: str):
    x, line, label = DESIGN_AXES[design]

    def draw(figure):
        panels = DESIGN_PANELS[design]
        for k, (name, score, title) in enumerate(panels):
            axes = figure.add_subplot(1, len(panels), k + 1)
            mine = points[(points["ability"] == name) & (points["score"] == score)]
            for j, ((size, value), rows) in enumerate(
                mine.sort_values(x).groupby(["size", line], sort=False, dropna=False)
            ):
                style = "-" if value in (None,) or pd.isna(value) or value > 0 else "--"
                tag = f"{size}, {line.split('_')[0]} {value:g}" if not pd.isna(value) else size
                axes.fill_between(rows[x], rows["min"], rows["max"], alpha=0.15, color=f"C{j}", lw=0)
                axes.plot(rows[x], rows["mean"], style, marker="o", ms=3, color=f"C{j}", label=tag)
            values = sorted(int(v) for v in points[x].dropna().unique())
            axes.set_xscale("log", base=2)
            axes.set_xticks(values, [str(v) for v in values])
            axes.minorticks_off()
            axes.set_title(title, fontsize=9)
            axes.set_xlabel(label, fontsize=8)
            axes.tick_params(labelsize=7)
            if not len(mine):
                axes.text(
                    0.5,
                    0.5,
                    "no score to draw (the table says why)",
                    ha="center",
                    transform=axes.transAxes,
                    fontsize=8,
                )
        handles = {}
        for axes in figure.axes:
            handles |= dict(zip(*reversed(axes.get_legend_handles_labels()), strict=True))
        figure.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncols=4,
            fontsize=7,
            frameon=False,
        )

    return draw


def draw_figures(
    folder: Path,
    tables: Mapping,
    sensitivity: Mapping[str, dict],
    features: Mapping[str, Mapping],
    regressions: Mapping[str, Mapping],
    design: tuple[str, pd.DataFrame] | None = None,
) -> list[str]:
    """Write the PNGs into `folder`; return their file names. `tables`: the plot tables, `overall`
    and per score (`acc`, `continuous`) one frame per set; `design`: (flan or limit, the study
    table) for that design's figure."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "fig1_overall.png": (overall_figure(tables["overall"]), (6.0, 4.0)),
        "fig2_6_accuracy.png": (abilities_figure(tables["acc"], "acc"), (11.0, 7.5)),
        "fig2_6_continuous.png": (abilities_figure(tables["continuous"], "continuous"), (11.0, 7.5)),
        "sensitivities.png": (sensitivities_figure(sensitivity), (9.0, 6.0)),
        "fig7_features.png": (figure7(sensitivity, features, regressions), (11.0, 7.5)),
    }
    if design and design[0] in DESIGN_PANELS:
        points = design_points(design[1], design[0])
        figures[f"design_{design[0]}.png"] = (design_figure(points, design[0]), (11.0, 4.2))
    for name, (draw, size) in figures.items():
        save_figure(folder / name, draw, size)
    return list(figures)
