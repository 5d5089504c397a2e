"""Stage forecast: the held-out targets (`forecast.size`, `forecast.n_per_ability`) predicted for
every set on both scores from the smaller runs, by each method side by side, and scored against
what the targets' runs scored (metrics/forecast.json); DoIT's features as a forecast of the
sensitivities against a constant; the predicted-against-actual figure (metrics/forecast.png)."""

from __future__ import annotations

from doit_study.analysis.forecast_figure import draw_forecast
from doit_study.analysis.forecast_inputs import study_forecast
from doit_study.analysis.item_table import read_items_table
from doit_study.analysis.study_results import design_grid
from doit_study.analysis.study_table import read_study
from doit_study.core.files import read_json, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.params.analysis import AnalysisParams
from doit_study.params.base import read_group
from doit_study.params.forecast import ForecastParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "study": "metrics/study.csv",
        "items": "metrics/items.csv",
        "analysis": "metrics (sensitivity.json, features.json)",
        "out": "metrics/forecast.json",
        "figure": "metrics/forecast.png",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, ForecastParams)
    grid = design_grid(read_study(args.study), read_group(args.params, AnalysisParams))
    analysis = {name: read_json(args.analysis / f"{name}.json") for name in ("sensitivity", "features")}
    found = study_forecast(read_items_table(args.items), grid, params, analysis)
    write_json(args.out, found)
    draw_forecast(args.figure, found)
    print(f"forecast: {len(found['sets'])} sets in {args.out}, figure {args.figure}")


if __name__ == "__main__":
    run_stage(main)
