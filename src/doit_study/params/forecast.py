"""Group `forecast` (stage forecast, report): the targets hidden from the fits and predicted from
the smaller runs, and the forecast intervals (docs/analysis.md, "Forecasts")."""

from __future__ import annotations

from pydantic import Field

from doit_study.params.base import Group, Strict


class ForecastResampling(Strict):
    replicates: int = Field(ge=10)  # the two-step forecast's bootstrap
    seed: int


class ForecastParams(Group):
    """Group `forecast`: which size and which data volume are forecast."""

    GROUP = "forecast"

    size: str | None  # a key of foundation.sizes: its runs are predicted from the smaller sizes
    n_per_ability: int | None = Field(ge=1)  # items per ability predicted from the smaller volumes
    level: float = Field(gt=0, lt=1)  # prediction intervals
    resampling: ForecastResampling
