"""Group `expand` (stage expand): the training pool and every subset the study trains on, the
FLAN and LIMIT designs' subsets among them (docs/designs.md). An empty list of factor values writes
no subset of that kind (the DoIT profiles)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from doit_study.core.schema import ABILITIES, SUBSET_NAMES, SYNTHETIC_TYPE, data_seed_name
from doit_study.params.base import Group, Strict, check_abilities, check_names, increasing


class TaskCountParams(Strict):
    """FLAN: subsets over the first k tasks of a seeded task order (`tasks-k<k>`), nested in k."""

    counts: list[int]  # k values; [] writes none
    per_task: int | None = Field(ge=1)  # items per task: the total grows with k
    total: int | None = Field(ge=1)  # or a fixed total shared by the k tasks
    held_out: int = Field(ge=0)  # the last tasks of the order: never trained, evaluated as unseen

    @field_validator("counts")
    @classmethod
    def _counts(cls, value: list[int]) -> list[int]:
        return increasing(value, "counts", 1)

    @model_validator(mode="after")
    def _one_size_rule(self) -> TaskCountParams:
        if self.counts and (self.per_task is None) == (self.total is None):
            raise ValueError("per_task, total: set exactly one (a growing or a fixed total)")
        return self


class CotParams(Strict):
    """FLAN: every task-count subset at several shares of chain-of-thought targets (`-cot<percent>`):
    of the items whose answer carries a reasoning chain, that share keeps the chain (with the
    `prompting.cot` instruction), the rest is trained on the final answer alone (`prompting.direct`)."""

    ratios: list[float]  # [] leaves the targets as the source wrote them

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return increasing(value, "ratios", 0, 1)


class StyleParams(Strict):
    """LIMIT: exact-match ("textbook") abilities against open-ended data (`style-o<percent>-n<total>`)."""

    open: list[str]  # the open-ended pools: abilities, or `general` (the synthetic pool)
    ratios: list[float]  # the open-ended share of each subset
    totals: list[int]  # subset sizes (nested: a larger total holds the smaller one's items)

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return increasing(value, "ratios", 0, 1)

    @field_validator("totals")
    @classmethod
    def _totals(cls, value: list[int]) -> list[int]:
        return increasing(value, "totals", 1)

    @field_validator("open")
    @classmethod
    def _pools(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in ABILITIES and p != SYNTHETIC_TYPE]
        if unknown:
            raise ValueError(f"open: {unknown[0]!r} is neither an ability nor {SYNTHETIC_TYPE}")
        return value


class MixParams(Strict):
    """A data mix: fixed sizes for some abilities; the others `full` or filled to `total`."""

    fixed: dict[str, int]
    others: Literal["full", "fill", "fixed"]
    others_n: int | None  # with others=fixed: n for every ability not in `fixed`
    total: int | None  # with others=fill: the mix's total size

    @field_validator("fixed")
    @classmethod
    def _fixed(cls, value: dict[str, int]) -> dict[str, int]:
        return check_abilities(value, "fixed")

    @model_validator(mode="after")
    def _consistent(self) -> MixParams:
        if self.others == "fill" and self.total is None:
            raise ValueError("total: required when others is fill")
        if self.others == "fixed" and self.others_n is None and set(self.fixed) != set(ABILITIES):
            raise ValueError("others_n: required when others is fixed and not every ability is listed")
        return self


class ExpandParams(Group):
    """Group `expand`: the training pool and every subset the study trains on."""

    GROUP = "expand"

    seed: int
    pool: dict[str, int]  # training pool per ability (Table 1 size minus valid and test)
    n_per_ability: list[int] = Field(min_length=1)
    # each data seed's own draw of the uniform subsets, a nested chain (`curated-n<n>` for seed 0,
    # `curated-n<n>-d<k>` for seed k): DataDecide's data seed, a replicate's draw of its data
    data_seeds: list[int] = Field(min_length=1)
    single_ability_n: int = Field(ge=1)
    # subsets of the second construction pool (10 x n items in all), when the source has one
    synthetic_n_per_ability: list[int]
    mixes: dict[str, MixParams]
    task_counts: TaskCountParams  # FLAN (docs/designs.md)
    cot: CotParams  # FLAN
    style: StyleParams  # LIMIT

    @field_validator("pool")
    @classmethod
    def _pool(cls, value: dict[str, int]) -> dict[str, int]:
        return check_abilities(value, "pool")

    @field_validator("n_per_ability")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if value != sorted(set(value)) or value[0] < 1:
            raise ValueError("n_per_ability: positive and strictly increasing")
        return value

    @field_validator("data_seeds")
    @classmethod
    def _data_seeds(cls, value: list[int]) -> list[int]:
        if value[0] != 0:
            raise ValueError("data_seeds: start with 0 (the subsets without a -d<k> suffix)")
        return increasing(value, "data_seeds", 0)

    @field_validator("mixes")
    @classmethod
    def _mix_names(cls, value: dict[str, MixParams]) -> dict[str, MixParams]:
        return check_names(value, r"[a-z0-9][a-z0-9_-]*", "mixes", "subset name (lowercase, digits, - and _)")


def subset_names(expand: ExpandParams) -> list[str]:
    """Every subset expand writes from these params (synthetic ones need a source with that pool)."""
    return [
        *(
            data_seed_name(SUBSET_NAMES["uniform"].format(n=n), seed)
            for seed in expand.data_seeds
            for n in expand.n_per_ability
        ),
        *(SUBSET_NAMES["single_ability"].format(ability=a, n=expand.single_ability_n) for a in ABILITIES),
        *(SUBSET_NAMES["mix"].format(name=name) for name in sorted(expand.mixes)),
        *(SUBSET_NAMES["synthetic"].format(n=n) for n in expand.synthetic_n_per_ability),
        *(
            SUBSET_NAMES["tasks"].format(k=k) + ("" if r is None else f"-cot{round(100 * r)}")
            for k in expand.task_counts.counts
            for r in expand.cot.ratios or [None]
        ),
        *(
            SUBSET_NAMES["style"].format(percent=round(100 * r), total=t)
            for r in expand.style.ratios
            for t in expand.style.totals
        ),
    ]
