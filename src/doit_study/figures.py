"""The figures (PNG), analogues of the paper's Figures 1-7, drawn from the analysis outputs as
measured: nothing is smoothed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from doit_study.schema import display_name


def _figure(path: Path, draw, size=(6.0, 4.0)) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure = pyplot.figure(figsize=size)
    draw(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: same data, same bytes
    pyplot.close(figure)


def _curves(axes, rows: Sequence[Mapping], y: str) -> None:
    for series in sorted({r["series"] for r in rows}):
        points = sorted((float(r["data_volume"]), float(r[y])) for r in rows if r["series"] == series)
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=series)
    axes.set_xscale("log")
    axes.set_xlabel("training items")


def draw_figures(
    folder: Path,
    overall_rows: Sequence[Mapping],
    ability_rows: Mapping[str, Sequence[Mapping]],
    sensitivity: Mapping[str, dict],
    features: Mapping,
    regressions: Mapping[str, dict],
) -> list[str]:
    """Write the PNGs into `folder`; return their file names."""
    folder.mkdir(parents=True, exist_ok=True)

    def overall(figure):
        axes = figure.add_subplot()
        _curves(axes, overall_rows, "overall")
        axes.set_ylabel("overall test score")
        axes.legend()

    def abilities(figure):
        names = sorted(ability_rows)
        columns = 4
        for k, name in enumerate(names):
            axes = figure.add_subplot((len(names) + columns - 1) // columns, columns, k + 1)
            _curves(axes, ability_rows[name], "acc")
            axes.set_title(display_name(name), fontsize=9)
        if names:
            figure.axes[0].legend(fontsize=7)

    def sensitivities(figure):
        axes = figure.add_subplot()
        names = sorted(sensitivity)
        for offset, axis in ((-0.2, "param"), (0.2, "data")):
            values = [sensitivity[n][axis].get("normalised") for n in names]
            axes.bar([k + offset for k in range(len(names))], [v or 0 for v in values], width=0.4, label=axis)
        labels = [display_name(n) for n in names]
        axes.set_xticks(range(len(names)), labels, rotation=45, ha="right", fontsize=8)
        axes.set_ylabel("normalised sensitivity")
        axes.legend()

    def figure7(figure):
        pairs = (
            ("complexity", "param", "complexity_vs_param"),
            ("transference", "data", "transference_vs_data"),
        )
        for k, (feature, axis, key) in enumerate(pairs):
            axes = figure.add_subplot(1, 2, k + 1)
            fit = regressions.get(key, {})
            used = fit.get("abilities", [])
            values = features.get(feature, {})
            xs = [values[a] for a in used]
            ys = [sensitivity[a][axis]["alpha"] for a in used]
            axes.scatter(xs, ys)
            for a, x, y in zip(used, xs, ys, strict=True):
                axes.annotate(a, (x, y), fontsize=7)
            if fit.get("defined") and xs:
                line = [min(xs), max(xs)]
                axes.plot(line, [fit["intercept"] + fit["slope"] * x for x in line], color="grey")
                axes.set_title(f"r = {fit['pearson_r']:.2f}, p = {fit['p_value']:.3f}", fontsize=9)
            else:
                axes.set_title(fit.get("reason", "undefined"), fontsize=8)
            axes.set_xlabel(feature)
            axes.set_ylabel(f"{axis} sensitivity (alpha)")

    figures = {
        "fig1_overall.png": (overall, (6.0, 4.0)),
        "fig2_6_abilities.png": (abilities, (12.0, 8.0)),
        "sensitivities.png": (sensitivities, (7.0, 4.0)),
        "fig7_features.png": (figure7, (10.0, 4.0)),
    }
    for name, (draw, size) in figures.items():
        _figure(folder / name, draw, size)
    return list(figures)
