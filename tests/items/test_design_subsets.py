"""The FLAN and LIMIT subsets: task counts nested and deterministic, held-out tasks never trained,
chain-of-thought targets nested in their share, style mixes nested in their total."""

import random

import pytest

from doit_study.core.schema import ABILITIES, AnswerKind
from doit_study.items.design_subsets import (
    answer_only,
    chain_targets,
    has_chain,
    style_sizes,
    task_order,
    task_pools,
    water_fill,
)
from doit_study.items.subsets import build_pools, materialise, plan_subsets
from tests.helpers import make
from tests.items.test_subsets import _expand

TASKS = {a: [f"{a}/one", f"{a}/two"] for a in ABILITIES}  # 20 tasks, 10 items each
CHAIN = "先算 3 + 4 = 7。\n再算 7 × 2 = 14。\n答案：14"


def _train():
    train = {}
    for ability, tasks in TASKS.items():
        kind = AnswerKind.math if ability == "math" else AnswerKind.letter
        gold = CHAIN if ability == "math" else "A"
        train[ability] = [
            make(f"{task} {i}", gold, ability, kind).model_copy(
                update={"id": f"{task}-{i:02d}", "task": task}
            )
            for task in tasks
            for i in range(10)
        ]
    return train


def _pools(train=None, seed=0):
    pools, _ = build_pools(train or _train(), dict.fromkeys(ABILITIES, 20), seed=seed)
    return pools


def _plan(pools, held_out=4, per_task=3, total=None, ratios=()):
    order = task_order(pools, seed=0, held_out=held_out)
    counts = {"counts": [1, 2, 4, 8], "per_task": per_task, "total": total, "held_out": held_out}
    expand = _expand([1], task_counts=counts, cot={"ratios": list(ratios)})
    by_task = task_pools(pools)
    available = {a: len(v) for a, v in pools.items()} | {t: len(v) for t, v in by_task.items()}
    plan = {s.name: s for s in plan_subsets(expand, available, order) if s.kind == "tasks"}
    return order, plan, pools | by_task


def test_task_counts_are_nested_in_k_and_never_touch_held_out_tasks():
    order, plan, pools = _plan(_pools())
    assert len(order.trained) == 16 and len(order.held_out) == 4
    made = {name: materialise(s, pools) for name, s in plan.items()}
    tasks = {name: {item.task for item in items} for name, items in made.items()}
    assert tasks["tasks-k1"] < tasks["tasks-k2"] < tasks["tasks-k4"] < tasks["tasks-k8"]
    assert {len(items) for items in made.values()} == {3, 6, 12, 24}  # per task: the total grows
    ids = {name: {item.id for item in items} for name, items in made.items()}
    assert ids["tasks-k1"] < ids["tasks-k2"] < ids["tasks-k8"]
    trained = set().union(*tasks.values())
    assert not trained & set(order.held_out)
    assert plan["tasks-k4"].factors == {"task_count": 4, "cot_ratio": None}


def test_a_fixed_total_is_shared_by_the_k_tasks():
    _, plan, pools = _plan(_pools(), per_task=None, total=8)
    assert {name: len(materialise(s, pools)) for name, s in plan.items()} == dict.fromkeys(plan, 8)
    assert sorted(plan["tasks-k8"].sizes.values()) == [1] * 8 and sorted(plan["tasks-k2"].sizes.values()) == [
        4,
        4,
    ]


def test_the_task_order_depends_on_content_and_seed_not_on_file_order():
    train = _train()
    shuffled = {a: random.Random(1).sample(items, len(items)) for a, items in train.items()}
    first, second = task_order(_pools(train), 0, 4), task_order(_pools(shuffled), 0, 4)
    assert first == second and task_order(_pools(train), 1, 4) != first
    with pytest.raises(ValueError, match="leaves none to train on"):
        task_order(_pools(train), 0, 20)


def test_chain_of_thought_targets_are_nested_in_their_share():
    item = make("小明有 3 个苹果……", CHAIN, "math", AnswerKind.math)
    assert has_chain(item) and answer_only(item).gold == "14" and not has_chain(answer_only(item))
    assert not has_chain(make("2 + 2 = ?", "4", "math", AnswerKind.math))
    items = [make(f"题 {i}", CHAIN, "math", AnswerKind.math) for i in range(8)] + [make("问", "A")]
    kept = {}
    for ratio in (0.0, 0.5, 1.0):
        out = chain_targets(items, ratio, "直接给出最终答案。", "请一步一步地推理。")
        kept[ratio] = {k for k, item in enumerate(out[:8]) if item.gold == CHAIN}
        assert out[8] == items[8]  # no chain: unchanged
        assert all(o.messages[0].content.endswith("请一步一步地推理。") for o in out[:8] if o.gold == CHAIN)
        assert all(o.messages[0].content.endswith("直接给出最终答案。") for o in out[:8] if o.gold == "14")
    assert kept[0.0] == set() < kept[0.5] < kept[1.0] == set(range(8)) and len(kept[0.5]) == 4


def test_style_mixes_split_the_total_and_nest_in_it():
    available = dict.fromkeys(ABILITIES, 100)
    sizes = style_sizes(100, 0.4, ["creative_writing", "role_play"], available)
    assert sizes["creative_writing"] == sizes["role_play"] == 20 and sum(sizes.values()) == 100
    assert sum(v for k, v in sizes.items() if k not in ("creative_writing", "role_play")) == 60
    small = style_sizes(50, 0.4, ["creative_writing", "role_play"], available)
    assert all(small.get(k, 0) <= v for k, v in sizes.items())
    assert style_sizes(40, 0.0, ["creative_writing"], available).get("creative_writing") is None
    assert water_fill(10, {"a": 2, "b": 100, "c": 100}) == {"a": 2, "b": 4, "c": 4}
