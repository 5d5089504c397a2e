"""Group `mixes` (stages derive_mixes, train_mix, evaluate_mix, report): Reconstruct and Maximum
derived from the analysis (the paper's Section 5.2), trained under the Baseline's replicates."""

from __future__ import annotations

from pydantic import Field, field_validator

from doit_study.core.schema import data_seed_name, split_data_seed
from doit_study.params.base import Group, Strict, check_names

DERIVED = ("reconstruct", "maximum")  # the mixes derive_mixes writes


class MixRun(Strict):
    """One training of a derived mix, as the Baseline's replicate with the same foundation, seed
    and data seed was trained."""

    subset: str  # data/mixes/<subset>.jsonl: reconstruct or maximum, -d<k> for data seed k
    foundation: str  # a key of foundation.models
    seed: int


class MixesParams(Group):
    """Group `mixes`: how the mixes are derived, and their trainings."""

    GROUP = "mixes"

    baseline: str  # the Baseline's subset (data seed 0; -d<k> for the others): uniform, in the grid
    settings: dict[str, MixRun] = Field(min_length=1)  # train_mix@<name>, evaluate_mix@<name>
    floor: int = Field(ge=1)  # items per resistant ability (the paper: 64)
    plateau_tolerance: float = Field(ge=0)  # a curve has flattened once within this of its best
    maximum_per_ability: int | None = Field(ge=1)  # Maximum's cap per scaled ability; null: whole pool

    @field_validator("settings")
    @classmethod
    def _names(cls, value: dict[str, MixRun]) -> dict[str, MixRun]:
        for name, run in value.items():
            mix, data_seed = split_data_seed(run.subset)
            if mix not in DERIVED or data_seed_name(mix, data_seed) != run.subset:
                raise ValueError(
                    f"{name}.subset: reconstruct or maximum (with -d<k>, k > 0), not {run.subset!r}"
                )
        return check_names(
            value, r"[a-z0-9][a-z0-9_.-]*", "settings", "setting name (lowercase, digits, . - _)"
        )
