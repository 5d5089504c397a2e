"""Group `mixes` (stages derive_mixes, train_mix, evaluate_mix, report): Reconstruct and Maximum."""

from __future__ import annotations

from pydantic import Field

from doit_study.params.base import Group


class MixesParams(Group):
    """Group `mixes`: Reconstruct and Maximum derived from the analysis (the paper's Section 5.2)."""

    GROUP = "mixes"

    size: str  # the model size the mixes are trained at (the paper: 7b, its smallest)
    seed: int  # their training seed; the Baseline is the setting of this seed
    baseline: str  # the Baseline subset; the setting <size> x <baseline> is what the mixes are compared to
    floor: int = Field(ge=1)  # items per resistant ability (the paper: 64)
    plateau_tolerance: float = Field(ge=0)  # a curve has flattened once within this of its best
    maximum_per_ability: int | None = Field(ge=1)  # Maximum's cap per scaled ability; null: whole pool
