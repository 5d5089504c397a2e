"""Group `annotate` (stage annotate): item construction, filters and splits."""

from __future__ import annotations

from pydantic import Field, field_validator

from doit_study.params.base import Group, check_abilities


class AnnotateParams(Group):
    """Group `annotate`: item construction, filters and splits."""

    GROUP = "annotate"

    seed: int
    valid_size: int = Field(ge=1)
    test_size: int = Field(ge=1)
    ood_size: int = Field(ge=1)
    max_chars: int = Field(ge=100)  # whole dialogue length limit, in characters
    # a built set whose gold letters fit uniform positions worse than this p fails (answer_positions.py)
    answer_position_p: float = Field(gt=0, lt=1)
    # Items kept per ability (train + valid + test), Table 1 of the paper.
    targets: dict[str, int]

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[str, int]) -> dict[str, int]:
        return check_abilities(value, "targets")
