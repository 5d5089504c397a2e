"""Group `analysis` (stages analyse, derive_mixes, report): sensitivities, features and their
regression."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from doit_study.params.base import Group, Strict


class BootstrapParams(Strict):
    replicates: int = Field(ge=10)  # resamples of the test items
    seed: int
    level: float = Field(gt=0, lt=1)


class FeatureWeights(Strict):
    """Complexity = w1 * L - w2 * sum(...); Transference = w * sum(...). The paper does not state
    them; docs/analysis.md gives the reasoning behind the defaults."""

    w1: float
    w2: float
    w: float


class Thresholds(Strict):
    """On normalised sensitivities: below `resistant` on both factors, an ability is resistant;
    within `balance` of each other, responsive; otherwise biased towards the larger."""

    resistant: float = Field(ge=0, le=1)
    balance: float = Field(ge=0, le=1)


class AnalysisParams(Group):
    """Group `analysis`: sensitivities, features and their regression."""

    GROUP = "analysis"

    # which grid is fitted: doit (size x data volume of the uniform subsets of `pool`), flan (size x
    # task count x chain-of-thought share) or limit (data volume x open-ended share); docs/designs.md
    design: Literal["doit", "flan", "limit"]
    pool: str  # the construction pool whose size x volume grid is fitted
    thresholds: Thresholds
    bootstrap: BootstrapParams
    weights: FeatureWeights
