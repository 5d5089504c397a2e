"""The subsets of the FLAN and LIMIT designs, from the same pools as the DoIT subsets (docs/designs.md):

- task count (FLAN): the first k tasks of a seeded task order, k nested; each task's items a prefix
  of its part of the pool, at a fixed number per task (the total grows with k) or a fixed total;
  the last `held_out` tasks of the order are never trained and are evaluated as unseen tasks;
- chain of thought (FLAN): a task-count subset with a share of its chain items keeping their chain
  (and the chain-of-thought instruction) and the rest trained on the final answer alone (and the
  direct instruction), the chain-keeping items nested in the share;
- style (LIMIT): a total split between the open-ended pools and the exact-match ("textbook")
  abilities at a ratio, each pool's items a prefix, so a larger total holds a smaller one's items.
"""

from __future__ import annotations

from dataclasses import dataclass

from doit_study.core.schema import ABILITIES, AnswerKind, Item, Message
from doit_study.core.seeding import rng_for
from doit_study.items.answers import final_answer, normalise


@dataclass(frozen=True)
class TaskOrder:
    trained: list[str]  # the tasks a task-count subset may use, in order
    held_out: list[str]  # never trained at any k


def task_order(pools: dict[str, list[Item]], seed: int, held_out: int) -> TaskOrder:
    """Every task of the ability pools, sorted then shuffled with `seed`: independent of file order."""
    tasks = sorted({item.task or item.type for a in ABILITIES for item in pools.get(a, [])})
    rng_for(seed, "tasks").shuffle(tasks)
    cut = len(tasks) - held_out
    if cut < 1:
        raise ValueError(f"held_out: {held_out} of {len(tasks)} tasks leaves none to train on")
    return TaskOrder(tasks[:cut], tasks[cut:])


def task_pools(pools: dict[str, list[Item]]) -> dict[str, list[Item]]:
    """Each task's items in its ability's pool order."""
    found: dict[str, list[Item]] = {}
    for ability in ABILITIES:
        for item in pools.get(ability, []):
            found.setdefault(item.task or item.type, []).append(item)
    return found


def water_fill(total: int, available: dict[str, int]) -> dict[str, int]:
    """`total` shared as equally as the pools allow: a pool smaller than its share gives all it has
    and the rest is shared again; the first pools (in the mapping's order) take the remainder."""
    sizes, remaining = {}, total
    open_ = sorted(available, key=lambda name: (available[name], list(available).index(name)))
    while open_:
        share = remaining // len(open_)
        if available[open_[0]] <= share:
            name = open_.pop(0)
            sizes[name] = available[name]
            remaining -= available[name]
            continue
        extra = remaining - share * len(open_)
        for name in sorted(open_, key=list(available).index):
            sizes[name] = share + (1 if extra > 0 else 0)
            extra -= 1
        break
    return {name: sizes[name] for name in available}


def task_count_sizes(order: TaskOrder, k: int, per_task: int | None, total: int | None, available) -> dict:
    tasks = order.trained[:k]
    if len(tasks) < k:
        raise ValueError(f"counts: {k} tasks asked, {len(order.trained)} can be trained")
    if per_task is not None:
        return dict.fromkeys(tasks, per_task)
    return water_fill(total, {task: available[task] for task in tasks})


def has_chain(item: Item) -> bool:
    """A maths answer that states its reasoning before its final answer."""
    return item.answer_kind == AnswerKind.math and normalise(final_answer(item.gold)) != normalise(item.gold)


def with_instruction(item: Item, instruction: str) -> Item:
    """The item with `instruction` appended to its last question."""
    messages = list(item.messages)
    last = max(k for k, m in enumerate(messages) if m.role == "user")
    messages[last] = Message(role="user", content=f"{messages[last].content}\n{instruction}")
    return item.model_copy(update={"messages": messages})


def answer_only(item: Item) -> Item:
    """The item trained on its final answer alone."""
    messages = [*item.messages[:-1], Message(role="assistant", content=final_answer(item.gold))]
    return item.model_copy(update={"messages": messages})


def chain_targets(items: list[Item], ratio: float, direct: str, cot: str) -> list[Item]:
    """The first `ratio` of the chain items (in subset order) keep their chain, the rest are
    answer-only; every chain item carries the instruction of its target. Others are unchanged."""
    chains = [k for k, item in enumerate(items) if has_chain(item)]
    keep = set(chains[: round(ratio * len(chains))])
    out = list(items)
    for k in chains:
        out[k] = (
            with_instruction(items[k], cot) if k in keep else with_instruction(answer_only(items[k]), direct)
        )
    return out


def style_sizes(total: int, ratio: float, open_pools: list[str], available: dict[str, int]) -> dict[str, int]:
    """The open-ended share of `total` over the open pools, the rest over the other abilities."""
    opened = round(ratio * total)
    textbook = [a for a in ABILITIES if a not in open_pools]
    sizes = water_fill(opened, {p: available[p] for p in open_pools}) if opened else {}
    rest = total - opened
    sizes |= water_fill(rest, {a: available[a] for a in textbook}) if rest else {}
    return {name: n for name, n in sizes.items() if n}
