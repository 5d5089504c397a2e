"""Group `analysis` (stages analyse, derive_mixes, report): sensitivities with their intervals and
verdicts, features and their regression (docs/analysis.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from doit_study.params.base import Group, Strict


class Resampling(Strict):
    """Resampling where no analytic interval exists: the signal's permutation null, decision
    accuracy's bootstrap over foundations, and Figure 7's correlations over the abilities."""

    replicates: int = Field(ge=10)
    seed: int
    level: float = Field(gt=0, lt=1)


class FeatureWeights(Strict):
    """Complexity = w1 * L - w2 * sum(...); Transference = w * sum(...). The paper does not state
    them; docs/analysis.md gives the reasoning behind the defaults."""

    w1: float
    w2: float
    w: float


class FlatBand(Strict):
    """A sensitivity whose whole interval lies within plus or minus this is flat (the evidence says
    the factor does not move the score): in accuracy per log unit, and in the set's replicate-noise
    units per log unit for the continuous score."""

    acc: float = Field(gt=0)
    continuous: float = Field(gt=0)


class AnalysisParams(Group):
    """Group `analysis`: sensitivities, features and their regression."""

    GROUP = "analysis"

    # which grid is fitted: doit (size x data volume of the uniform subsets of `pool`), flan (size x
    # task count x chain-of-thought share) or limit (data volume x open-ended share); docs/designs.md
    design: Literal["doit", "flan", "limit"]
    pool: str  # the construction pool whose size x volume grid is fitted
    level: float = Field(gt=0, lt=1)  # every sensitivity's interval (Student t over the foundations)
    fdr: float = Field(gt=0, lt=1)  # Benjamini-Hochberg: the false discovery rate of the verdicts
    flat: FlatBand
    # a set whose untuned foundations beat chance at this one-sided binomial p is flagged as a
    # possible position or format artefact (answerable without the ability)
    artefact_p: float = Field(gt=0, lt=1)
    resampling: Resampling
    weights: FeatureWeights
