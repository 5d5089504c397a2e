"""The forecast stage's inputs and outputs on the synthetic study: each set's runs from the item
table, the targets in the grid's units (a size or volume not trained is refused by name), the
whole forecast with its summary and the features as a forecast, and its report section."""

import pytest

from doit_study.analysis.forecast_inputs import chances, set_runs, study_forecast, target_values
from doit_study.analysis.forecast_report import forecast_section
from doit_study.core.files import DataError
from doit_study.params.forecast import ForecastParams


def test_each_sets_runs_hold_one_row_per_setting_with_its_item_means(study):
    grid, items = study
    runs = set_runs(items, grid)
    assert set(runs) == set(grid["ability"])
    biology = runs["biology"]
    assert len(biology) == grid[grid["ability"] == "biology"]["setting"].nunique() == 18
    assert {"foundation", "parameters", "items", "acc", "continuous"} <= set(biology.columns)
    row = biology.iloc[0]
    mine = items[
        (items["setting"] == row["setting"]) & (items["ability"] == "biology") & (items["split"] == "test")
    ]
    assert row["acc"] == pytest.approx(mine["acc"].mean())
    assert chances(grid)["biology"] == 0.25


def test_targets_are_read_in_the_grids_units_and_an_untrained_one_is_refused(study):
    grid, _ = study
    assert target_values(grid, "l", 64) == {"param": 3_920_000.0, "data": 64.0}
    assert target_values(grid, None, None) == {}
    with pytest.raises(DataError, match="no trained setting of size 'xl'") as error:
        target_values(grid, "xl", None)
    assert error.value.field == "forecast.size"
    with pytest.raises(DataError, match="256 items per ability"):
        target_values(grid, None, 256)


def test_the_study_forecast_scores_every_set_at_both_targets(study, analysed):
    grid, items = study
    params = ForecastParams(size="l", n_per_ability=64, level=0.9, resampling={"replicates": 20, "seed": 0})
    features = {"acc": {"complexity": {"biology": 1.0}, "transference": {}}, "continuous": {}}
    found = study_forecast(items, grid, params, {"sensitivity": analysed, "features": features})
    assert set(found["sets"]) == set(grid["ability"])
    assert found["sets"]["biology"]["param"]["target"] == 3_920_000.0
    assert found["sets"]["biology"]["data"]["fitted"] == [4.0, 16.0]
    methods = found["summary"]["param"]["acc"]["methods"]
    assert {"ranking", "one_step_linear", "one_step_power", "two_step"} <= set(methods)
    assert methods["one_step_linear"]["forecasts"] == len(found["sets"]) * 3  # a forecast per volume
    assert found["features"]["acc"]["complexity_vs_param"]["defined"] is False  # one ability has a feature
    import json

    json.dumps(found, allow_nan=True)  # JSON-clean: numpy scalars would raise here, as in the stage
    again = study_forecast(items, grid, params, {"sensitivity": analysed, "features": features})
    assert again == found  # seeded: verify can recompute it
    section = "\n".join(forecast_section(found))
    assert "## Forecasts" in section and "(lowest error)" in section and "90% prediction intervals" in section
    assert forecast_section({"sets": {}, "summary": {}}) == []
