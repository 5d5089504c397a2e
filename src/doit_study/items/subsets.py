"""The training pool and every subset the study trains on.

Each ability's pool is its train items sorted by id and shuffled with a seed, so the order depends
only on content and seed. Every subset takes a prefix of that order: the n=4 subset contains the n=1
subset, the Baseline mix contains every smaller uniform subset, and so on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from doit_study.core.files import DataError
from doit_study.core.schema import ABILITIES, SUBSET_NAMES, SYNTHETIC_TYPE, Item, data_seed_name
from doit_study.core.seeding import rng_for
from doit_study.items.design_subsets import TaskOrder, style_sizes, task_count_sizes, water_fill

if TYPE_CHECKING:  # annotations only: the analysis derives mixes without the expand group's model
    from doit_study.params.expand import ExpandParams, MixParams


@dataclass(frozen=True)
class Subset:
    name: str
    sizes: dict[str, int]  # items taken from each pool (a prefix); tasks' pools for `tasks` subsets
    kind: str  # uniform | single_ability | mix | synthetic | tasks | style
    factors: dict = field(default_factory=dict)  # task_count, cot_ratio, open_ratio (docs/designs.md)
    data_seed: int = 0  # whose draw of the pools it takes its prefixes from (`reordered`)


def pool_order(items: list[Item], seed: int, name: str) -> list[Item]:
    ordered = sorted(items, key=lambda item: item.id)
    rng_for(seed, f"pool:{name}").shuffle(ordered)
    return ordered


def reordered(pools: dict[str, list[Item]], seed: int, data_seed: int) -> dict[str, list[Item]]:
    """The pools in the order of a data seed: as they are for seed 0 (each prefix a subset); for
    seed k, the same items shuffled again from their ids with a stream of their own, so every data
    seed draws its own nested chain of subsets from the same pools."""
    if data_seed == 0:
        return pools
    return {
        name: rng_for(seed, f"pool:{name}:data-seed-{data_seed}").sample(
            sorted(items, key=lambda item: item.id), len(items)
        )
        for name, items in pools.items()
    }


def build_pools(train: dict[str, list[Item]], pool_sizes: dict[str, int], seed: int) -> tuple[dict, dict]:
    """Pools truncated to the params' sizes, and the shortfall where the train split is smaller."""
    pools, shortfall = {}, {}
    for ability in ABILITIES:
        ordered = pool_order(train.get(ability, []), seed, ability)
        wanted = pool_sizes.get(ability, len(ordered))
        pools[ability] = ordered[:wanted]
        if len(ordered) < wanted:
            shortfall[ability] = wanted - len(ordered)
    return pools, shortfall


@dataclass(frozen=True)
class Mix:
    """A mix as `mix_sizes` reads it (the fields of `params.expand.MixParams`): fixed sizes for
    some abilities, the others at their `full` pool, `fixed` at `others_n`, or `fill`ed to `total`."""

    fixed: Mapping[str, int]
    others: str
    others_n: int | None = None
    total: int | None = None


def mix_sizes(mix: Mix | MixParams, available: dict[str, int]) -> dict[str, int]:
    """Per-ability sizes of a mix. `fill` splits what the fixed abilities leave of `total` equally
    among the others; an ability whose pool is smaller gives all it has and the rest is re-shared
    (water-filling), so the total is kept whenever the pools allow it."""
    sizes = dict(mix.fixed)
    others = [a for a in ABILITIES if a not in sizes]
    if mix.others == "full":
        sizes |= {a: available[a] for a in others}
    elif mix.others == "fixed":
        sizes |= dict.fromkeys(others, mix.others_n)
    else:
        remaining = max(0, mix.total - sum(sizes.values()))
        sizes |= water_fill(remaining, {a: available[a] for a in others})
    return {a: sizes[a] for a in ABILITIES}


def plan_subsets(expand: ExpandParams, available: dict[str, int], order: TaskOrder | None) -> list[Subset]:
    """Every subset the params ask for. `available`: pool sizes by ability, `general` (the
    synthetic pool) and task; `order`: the task order, when task-count subsets are asked for."""
    names = SUBSET_NAMES
    plan = [
        Subset(
            data_seed_name(names["uniform"].format(n=n), seed),
            dict.fromkeys(ABILITIES, n),
            "uniform",
            {},
            seed,
        )
        for seed in expand.data_seeds
        for n in expand.n_per_ability
    ]
    n = expand.single_ability_n
    plan += [
        Subset(names["single_ability"].format(ability=a, n=n), {a: n}, "single_ability") for a in ABILITIES
    ]
    plan += [
        Subset(names["mix"].format(name=k), mix_sizes(mix, available), "mix")
        for k, mix in sorted(expand.mixes.items())
    ]
    if available.get(SYNTHETIC_TYPE):
        plan += [
            Subset(names["synthetic"].format(n=n), {SYNTHETIC_TYPE: 10 * n}, "synthetic")
            for n in expand.synthetic_n_per_ability
        ]
    counts = expand.task_counts
    for k in counts.counts if order else []:  # the task order comes from the data
        sizes = task_count_sizes(order, k, counts.per_task, counts.total, available)
        for ratio in expand.cot.ratios or [None]:
            name = names["tasks"].format(k=k) + ("" if ratio is None else f"-cot{round(100 * ratio)}")
            plan.append(Subset(name, sizes, "tasks", {"task_count": k, "cot_ratio": ratio}))
    style = expand.style
    for ratio in style.ratios:
        for total in style.totals:
            name = names["style"].format(percent=round(100 * ratio), total=total)
            sizes = style_sizes(total, ratio, style.open, available)
            plan.append(Subset(name, sizes, "style", {"open_ratio": ratio}))
    return plan


def check_sizes(plan: list[Subset], available: dict[str, int], params_path: str) -> None:
    for subset in plan:
        for pool, size in subset.sizes.items():
            if size > available.get(pool, 0):
                raise DataError(
                    params_path,
                    f"subset {subset.name} needs {size} {pool} items but the pool has "
                    f"{available.get(pool, 0)}",
                    None,
                    "expand",
                )


def materialise(subset: Subset, pools: dict[str, list[Item]]) -> list[Item]:
    return [item for pool in sorted(subset.sizes) for item in pools[pool][: subset.sizes[pool]]]
