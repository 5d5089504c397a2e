"""The training pool and every subset the study trains on.

Each ability's pool is its train items sorted by id and shuffled with a seed, so the order depends
only on content and seed. Every subset takes a prefix of that order: the n=4 subset contains the n=1
subset, the Baseline mix contains every smaller uniform subset, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

from doit_study.config import SUBSET_NAMES, MixParams
from doit_study.io import DataError
from doit_study.options import rng_for
from doit_study.schema import ABILITIES, Item


@dataclass(frozen=True)
class Subset:
    name: str
    sizes: dict[str, int]  # items taken from each pool (a prefix)
    kind: str  # uniform | single_ability | mix | synthetic


def pool_order(items: list[Item], seed: int, name: str) -> list[Item]:
    ordered = sorted(items, key=lambda item: item.id)
    rng_for(seed, f"pool:{name}").shuffle(ordered)
    return ordered


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


def mix_sizes(mix: MixParams, available: dict[str, int]) -> dict[str, int]:
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
        open_ = sorted(others, key=lambda a: (available[a], ABILITIES.index(a)))
        while open_:
            share = remaining // len(open_)
            if available[open_[0]] <= share:  # this pool is too small: take all of it and re-share
                ability = open_.pop(0)
                sizes[ability] = available[ability]
                remaining -= available[ability]
                continue
            extra = remaining - share * len(open_)
            for ability in sorted(open_, key=ABILITIES.index):
                sizes[ability] = share + (1 if extra > 0 else 0)
                extra -= 1
            break
    return {a: sizes[a] for a in ABILITIES}


def plan_subsets(
    n_per_ability: list[int],
    single_ability_n: int,
    mixes: dict[str, MixParams],
    available: dict[str, int],
    synthetic_n: list[int],
    synthetic_available: int,
) -> list[Subset]:
    names = SUBSET_NAMES
    plan = [
        Subset(names["uniform"].format(n=n), dict.fromkeys(ABILITIES, n), "uniform") for n in n_per_ability
    ]
    plan += [
        Subset(
            names["single_ability"].format(ability=a, n=single_ability_n),
            {a: single_ability_n},
            "single_ability",
        )
        for a in ABILITIES
    ]
    plan += [
        Subset(names["mix"].format(name=k), mix_sizes(mix, available), "mix")
        for k, mix in sorted(mixes.items())
    ]
    if synthetic_available:
        plan += [
            Subset(names["synthetic"].format(n=n), {"general": 10 * n}, "synthetic") for n in synthetic_n
        ]
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
