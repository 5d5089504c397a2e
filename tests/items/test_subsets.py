import random

import pytest

from doit_study.core.files import DataError
from doit_study.core.schema import ABILITIES
from doit_study.items.subsets import (
    build_pools,
    check_sizes,
    materialise,
    mix_sizes,
    plan_subsets,
    reordered,
)
from doit_study.params.expand import ExpandParams, MixParams
from tests.helpers import make


def _expand(n_per_ability, single_n=8, synthetic=(), data_seeds=(0,), **designs) -> ExpandParams:
    """Expand params with these subsets and no FLAN or LIMIT subsets unless given."""
    return ExpandParams(
        seed=0,
        pool=dict.fromkeys(ABILITIES, 20),
        n_per_ability=list(n_per_ability),
        data_seeds=list(data_seeds),
        single_ability_n=single_n,
        synthetic_n_per_ability=list(synthetic),
        mixes={},
        task_counts=designs.get("task_counts", {"counts": [], "per_task": 4, "total": None, "held_out": 0}),
        cot=designs.get("cot", {"ratios": []}),
        style=designs.get("style", {"open": ["creative_writing"], "ratios": [], "totals": []}),
    )


TABLE1_POOLS = {
    "biology": 1042,
    "history": 1893,
    "code": 4968,
    "creative_writing": 1000,
    "chinese": 1450,
    "understanding": 4885,
    "role_play": 1000,
    "reasoning": 12751,
    "math": 11501,
    "ethics": 1000,
}


def _train(n=20):
    return {
        a: [make(f"{a} {i}", "A", a).model_copy(update={"id": f"{a}-{i:03d}"}) for i in range(n)]
        for a in ABILITIES
    }


def test_subsets_are_nested_prefixes():
    pools, _ = build_pools(_train(), dict.fromkeys(ABILITIES, 20), seed=3)
    plan = plan_subsets(_expand([1, 4, 16]), dict.fromkeys(ABILITIES, 20), None)
    made = {s.name: [i.id for i in materialise(s, pools)] for s in plan}
    assert set(made["curated-n1"]) < set(made["curated-n4"]) < set(made["curated-n16"])
    assert set(made["only-math-n8"]) <= set(made["curated-n16"])
    assert len(made["curated-n4"]) == 40


def test_each_data_seed_draws_its_own_nested_chain_of_uniform_subsets():
    pools, _ = build_pools(_train(), dict.fromkeys(ABILITIES, 20), seed=3)
    plan = plan_subsets(_expand([1, 4, 16], data_seeds=[0, 1, 2]), dict.fromkeys(ABILITIES, 20), None)
    uniform = [s for s in plan if s.kind == "uniform"]
    assert [(s.name, s.data_seed) for s in uniform] == [
        (f"curated-n{n}{suffix}", seed)
        for seed, suffix in ((0, ""), (1, "-d1"), (2, "-d2"))
        for n in (1, 4, 16)
    ]
    assert {s.data_seed for s in plan if s.kind != "uniform"} == {0}
    drawn = {seed: reordered(pools, 3, seed) for seed in (0, 1, 2)}
    assert drawn[0] is pools  # data seed 0: the pools' own order, the subsets of before
    made = {s.name: [i.id for i in materialise(s, drawn[s.data_seed])] for s in uniform}
    for suffix in ("", "-d1", "-d2"):  # nested across n within one data seed
        chain = [set(made[f"curated-n{n}{suffix}"]) for n in (1, 4, 16)]
        assert chain[0] < chain[1] < chain[2]
        assert [len(c) for c in chain] == [10, 40, 160]
        for ability in ABILITIES:  # uniform: n items of each ability
            assert sum(i.startswith(f"{ability}-") for i in made[f"curated-n4{suffix}"]) == 4
    for n in (4, 16):  # distinct draws: another data seed takes other items from the same pools
        assert len({frozenset(made[f"curated-n{n}{suffix}"]) for suffix in ("", "-d1", "-d2")}) == 3
    for seed in (1, 2):  # the same items, only reordered, and deterministic
        assert {a: sorted(i.id for i in v) for a, v in drawn[seed].items()} == {
            a: sorted(i.id for i in v) for a, v in pools.items()
        }
        assert [i.id for i in reordered(pools, 3, seed)["math"]] == [i.id for i in drawn[seed]["math"]]
    assert [i.id for i in drawn[1]["math"]] != [i.id for i in drawn[2]["math"]]


def test_pool_order_is_independent_of_file_order():
    train = _train()
    reversed_train = {a: list(reversed(items)) for a, items in train.items()}
    random.Random(1).shuffle(reversed_train["math"])
    first, _ = build_pools(train, dict.fromkeys(ABILITIES, 20), seed=0)
    second, _ = build_pools(reversed_train, dict.fromkeys(ABILITIES, 20), seed=0)
    assert {a: [i.id for i in v] for a, v in first.items()} == {
        a: [i.id for i in v] for a, v in second.items()
    }


def test_reconstruct_fills_to_the_total_like_the_paper():
    fixed = {"ethics": 64, "role_play": 64, "creative_writing": 1000}
    mix = MixParams(fixed=fixed, others="fill", others_n=None, total=10000)
    sizes = mix_sizes(mix, TABLE1_POOLS)
    assert sum(sizes.values()) == 10000
    assert sizes["biology"] == 1042  # smaller than its share: all of it
    assert {sizes[a] for a in ("history", "code", "chinese", "understanding", "reasoning", "math")} == {1305}
    assert all(sizes[a] <= TABLE1_POOLS[a] for a in ABILITIES)


def test_maximum_takes_every_other_pool_in_full():
    fixed = {"ethics": 64, "role_play": 64, "creative_writing": 1000}
    mix = MixParams(fixed=fixed, others="full", others_n=None, total=None)
    sizes = mix_sizes(mix, TABLE1_POOLS)
    assert sum(sizes.values()) == 39618 and sizes["reasoning"] == 12751


def test_fill_with_an_odd_remainder_keeps_the_total():
    sizes = mix_sizes(
        MixParams(fixed={"ethics": 3}, others="fill", others_n=None, total=100), dict.fromkeys(ABILITIES, 50)
    )
    assert (
        sum(sizes.values()) == 100
        and max(sizes.values()) - min(v for a, v in sizes.items() if a != "ethics") <= 1
    )


def test_n_larger_than_the_pool_is_an_error():
    plan = plan_subsets(_expand([1, 64]), dict.fromkeys(ABILITIES, 20), None)
    with pytest.raises(DataError, match="curated-n64 needs 64 biology items but the pool has 20"):
        check_sizes(plan, dict.fromkeys(ABILITIES, 20), "params.yaml")


def test_synthetic_pool_subsets_hold_ten_items_per_n():
    from doit_study.core.schema import SYNTHETIC_TYPE

    train = _train() | {SYNTHETIC_TYPE: [make(f"通用指令 {i}", "好的", SYNTHETIC_TYPE) for i in range(50)]}
    train[SYNTHETIC_TYPE] = [
        i.model_copy(update={"id": f"general-{k:03d}"}) for k, i in enumerate(train[SYNTHETIC_TYPE])
    ]
    pools, _ = build_pools(train, dict.fromkeys(ABILITIES, 20), seed=0)
    from doit_study.items.subsets import pool_order

    pools[SYNTHETIC_TYPE] = pool_order(train[SYNTHETIC_TYPE], 0, SYNTHETIC_TYPE)
    plan = plan_subsets(
        _expand([1, 4], synthetic=[1, 4]), dict.fromkeys(ABILITIES, 20) | {SYNTHETIC_TYPE: 50}, None
    )
    made = {s.name: materialise(s, pools) for s in plan if s.kind == "synthetic"}
    assert {name: len(items) for name, items in made.items()} == {"synthetic-n1": 10, "synthetic-n4": 40}
    assert {i.id for i in made["synthetic-n1"]} < {i.id for i in made["synthetic-n4"]}
    assert all(i.type == SYNTHETIC_TYPE for i in made["synthetic-n4"])
