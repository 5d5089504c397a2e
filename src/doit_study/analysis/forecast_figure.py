"""The forecast figure (metrics/forecast.png): predicted against actual, one point per set, recipe
and method at each target, with the prediction interval as a bar and the diagonal."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from doit_study.analysis.figures import SCORE_LABELS, save_figure
from doit_study.analysis.forecast import forecast_table

AXIS_LABELS = {"param": "largest model size", "data": "largest data volume", "tasks": "largest task count"}
MARKERS = {"one_step_linear": "o", "one_step_power": "s", "two_step": "^"}


def draw_forecast(path: Path, result: Mapping) -> None:
    table = forecast_table(result)
    if not table.empty:
        table = table[table["defined"].fillna(False).astype(bool) & table["actual"].notna()]
    panels = sorted({(a, s) for a, s in zip(table.get("axis", []), table.get("score", []), strict=True)})

    def draw(figure) -> None:
        if not panels:
            figure.text(0.5, 0.5, "no target could be forecast", ha="center", va="center")
            return
        grid = figure.subplots(1, len(panels), squeeze=False)[0]
        for axes, (axis, score) in zip(grid, panels, strict=True):
            mine = table[(table["axis"] == axis) & (table["score"] == score)]
            for method, rows in mine.groupby("method"):
                low = [
                    p - i[0] if i else 0 for p, i in zip(rows["prediction"], rows["interval"], strict=True)
                ]
                high = [
                    i[1] - p if i else 0 for p, i in zip(rows["prediction"], rows["interval"], strict=True)
                ]
                axes.errorbar(
                    rows["actual"],
                    rows["prediction"],
                    yerr=[low, high],
                    fmt=MARKERS.get(method, "x"),
                    label=method.replace("_", " "),
                    alpha=0.7,
                    markersize=4,
                    elinewidth=0.8,
                )
            ends = [
                min(mine["actual"].min(), mine["prediction"].min()),
                max(mine["actual"].max(), mine["prediction"].max()),
            ]
            axes.plot(ends, ends, color="grey", linestyle=":", linewidth=1)
            axes.set_title(f"{AXIS_LABELS.get(axis, axis)}, {SCORE_LABELS[score]}", fontsize=9)
            axes.set_xlabel("actual (replicate mean)")
            axes.set_ylabel("forecast")
            axes.legend(fontsize=7)

    save_figure(Path(path), draw, (4.2 * max(len(panels), 1), 4.0))
