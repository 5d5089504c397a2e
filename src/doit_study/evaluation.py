"""Scoring items by the paper's protocol (`../shared/doit-protocol.md`, "Evaluation protocol").

Format-0 items are scored by exact match: greedy generation, parsed by answer kind, compared with
the parsed gold. Format-1 items (gold plus distractors) are scored by perplexity: the gold wins if
and only if its PPL is strictly below every distractor's, so a tie counts as wrong. An output that
does not parse is wrong and counted as `unparsed`; it never raises.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from doit_study.answers import math_equivalent, parse_answer
from doit_study.benchmarks import Question, read_questions, score_benchmark
from doit_study.chat import chat_ids, encode_prompt
from doit_study.io import DataError, read_items, write_json_lines
from doit_study.schema import AnswerKind, Item
from doit_study.scoring import continuation_nll, generate_greedy

_OPTION_LINE = re.compile(r"^\s*([A-F])\s*[.．、:：)）]", re.MULTILINE)


@dataclass(frozen=True)
class ScoringConfig:
    generation_batch: int
    nll_token_budget: int
    max_new_tokens: Mapping[str, int]  # per answer kind
    min_new_tokens: int = 1  # an answer has at least one token: stop tokens wait until then
    dtype: str = "float32"  # the weights' dtype while scoring (bfloat16 halves a large model's memory)


@dataclass(frozen=True)
class Prediction:
    id: str
    type: str
    answer_kind: str
    correct: bool
    unparsed: bool
    gold: str
    parsed: str | None = None  # exact match: the parsed answer
    output: str | None = None  # exact match: the generated text
    ppl: tuple[float, ...] | None = None  # distractors: gold first

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, row: dict) -> Prediction:
        """The inverse of `to_json` (which leaves out empty fields)."""
        values = {field.name: row.get(field.name) for field in fields(cls)}
        return cls(**values | {"ppl": tuple(row["ppl"]) if "ppl" in row else None})


def answer_kind(item: Item, where: str) -> AnswerKind:
    if item.answer_kind is None:
        message = f"item {item.id}: no answer_kind (run the annotate stage first)"
        raise DataError(where, message, None, "answer_kind")
    return item.answer_kind


def check_scorable(item: Item, where: str) -> None:
    kind = answer_kind(item, where)
    if item.question_format == 1 and not item.choices:
        raise DataError(where, f"item {item.id}: a format-1 item needs its choices", None, "choices")
    if item.question_format == 0 and kind is AnswerKind.open:
        raise DataError(
            where, f"item {item.id}: an open answer can only be scored with choices", None, "answer_kind"
        )
    if item.question_format == 0 and parse_answer(kind, gold_text(item)) is None:
        message = f"item {item.id}: the gold answer does not parse as {kind.value}"
        raise DataError(where, message, None, "answer")


def gold_text(item: Item) -> str:
    return item.answer if item.answer is not None else item.gold


def _show(kind: AnswerKind, parsed) -> str | None:
    if parsed is None:
        return None
    if kind is AnswerKind.math:
        return str(parsed[-1])  # math-verify keeps the matched source text last
    return str(parsed)


def judge(kind: AnswerKind, output: str, gold: str) -> tuple[bool, bool, str | None]:
    """(correct, unparsed, parsed answer) of one generated answer against the gold text."""
    parsed = parse_answer(kind, output)
    if parsed is None:
        return False, True, None
    if kind is AnswerKind.math:
        return math_equivalent(output, gold), False, _show(kind, parsed)
    return parsed == parse_answer(kind, gold), False, _show(kind, parsed)


def random_baseline(item: Item) -> float:
    """Chance of a random guess, from the item itself (the protocol's rules)."""
    if item.question_format == 1:
        return 1 / len(item.choices)
    kind = item.answer_kind
    if kind is AnswerKind.true_false:
        return 0.5
    if kind in (AnswerKind.fill, AnswerKind.math, AnswerKind.open):
        return 0.0
    options = len(set(_OPTION_LINE.findall(item.messages[-2].content))) or 4
    if kind is AnswerKind.letter:
        return 1 / options
    picked = len(parse_answer(kind, item.gold) or "") or 1
    return 1 / math.comb(options, picked)


def score_items(
    model,
    tokenizer,
    items: Sequence[Item],
    config: ScoringConfig,
    progress: Callable[[int], None] | None = None,
) -> list[Prediction]:
    """Every item scored by its format; predictions in the order of `items`."""
    ids = chat_ids(tokenizer)
    generated = [i for i, item in enumerate(items) if item.question_format == 0]
    ranked = [i for i, item in enumerate(items) if item.question_format == 1]
    predictions: dict[int, Prediction] = {}

    prompts = [encode_prompt(tokenizer, items[i].messages) for i in generated]
    budgets = [config.max_new_tokens[items[i].answer_kind.value] for i in generated]
    stops = [ids.end_of_turn, ids.user, ids.assistant]
    outputs = generate_greedy(
        model, prompts, budgets, stops, ids.pad, config.generation_batch, progress, config.min_new_tokens
    )
    for i, tokens in zip(generated, outputs, strict=True):
        item, text = items[i], tokenizer.decode(tokens, skip_special_tokens=True)
        correct, unparsed, parsed = judge(item.answer_kind, text, gold_text(item))
        predictions[i] = Prediction(
            item.id, item.type, item.answer_kind.value, correct, unparsed, gold_text(item), parsed, text
        )

    prompts = [encode_prompt(tokenizer, items[i].messages) for i in ranked]
    choices = [
        [[*tokenizer.encode(c, add_special_tokens=False), ids.end_of_turn] for c in items[i].choices]
        for i in ranked
    ]
    nlls = continuation_nll(model, prompts, choices, ids.pad, config.nll_token_budget, progress)
    for i, nll in zip(ranked, nlls, strict=True):
        item = items[i]
        ppl = tuple(math.exp(value) for value in nll)
        predictions[i] = Prediction(
            item.id, item.type, item.answer_kind.value, ppl[0] < min(ppl[1:]), False, item.gold, ppl=ppl
        )
    return [predictions[i] for i in range(len(items))]


def gold_losses(model, tokenizer, items: Sequence[Item], token_budget: int, progress=None) -> list[float]:
    """Per item: the mean negative log-likelihood of the gold answer and its end-of-turn token (the
    test loss L_i of the paper's Complexity)."""
    ids = chat_ids(tokenizer)
    prompts = [encode_prompt(tokenizer, item.messages) for item in items]
    golds = [[[*tokenizer.encode(item.gold, add_special_tokens=False), ids.end_of_turn]] for item in items]
    return [nll for (nll,) in continuation_nll(model, prompts, golds, ids.pad, token_budget, progress)]


def summarise(
    items: Sequence[Item], predictions: Sequence[Prediction], losses: Sequence[float] | None = None
) -> dict[str, dict]:
    """Per type: accuracy, item count, unparsed count, the random-guess baseline and, when given,
    the mean gold-answer loss."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[item.type].append(index)
    summary = {}
    for name, members in sorted(groups.items()):
        summary[name] = {
            "acc": math.fsum(predictions[k].correct for k in members) / len(members),
            "n": len(members),
            "unparsed": sum(predictions[k].unparsed for k in members),
            "random": math.fsum(random_baseline(items[k]) for k in members) / len(members),
        }
        if losses is not None:
            summary[name]["loss"] = math.fsum(losses[k] for k in members) / len(members)
    return summary


def with_progress(label: str, total: int, score, *args):
    """`score(*args, progress=...)` under a progress bar with rate and ETA on a terminal, and one
    summary line (items, seconds, items/s) in any case."""
    from tqdm import tqdm

    start = time.perf_counter()
    with tqdm(total=total, desc=label, unit="item", disable=None, file=sys.stderr) as bar:
        result = score(*args, progress=bar.update)
    seconds = time.perf_counter() - start
    print(f"{label}: {total} items in {seconds:.1f} s ({total / max(seconds, 1e-9):.0f} items/s)", flush=True)
    return result


@dataclass
class TestResults:
    predictions: list[Prediction]
    summary: dict[str, dict]
    benchmark_results: dict[int, list[dict]]
    benchmark_scores: dict[str, float]


def score_test_and_benchmarks(
    model,
    tokenizer,
    test: Sequence[Item],
    questions: Sequence[Question],
    config: ScoringConfig,
    shots: Sequence[int],
    benchmark_batch: int,
    label: str,
) -> TestResults:
    """What is reported for a model: the test sets (accuracy and gold-answer loss) and every
    benchmark suite at every number of shots."""
    predictions = with_progress(f"{label} test", len(test), score_items, model, tokenizer, test, config)
    # a format-1 item's gold loss is its first choice's, already computed; the others need a pass
    generated = [item for item in test if item.question_format == 0]
    budget = config.nll_token_budget
    extra = iter(
        with_progress(f"{label} test loss", len(generated), gold_losses, model, tokenizer, generated, budget)
    )
    losses = [math.log(p.ppl[0]) if p.ppl else next(extra) for p in predictions]
    results, scores = {}, {}
    n_questions = sum(q.split == "test" for q in questions)
    for k in shots if questions else []:
        results[k] = with_progress(
            f"{label} benchmarks {k}-shot",
            n_questions,
            score_benchmark,
            model,
            tokenizer,
            questions,
            k,
            benchmark_batch,
        )
        for suite in sorted({r["suite"] for r in results[k]}):
            picked = [r["correct"] for r in results[k] if r["suite"] == suite]
            scores[f"{suite}.{k}shot"] = math.fsum(picked) / len(picked)
    return TestResults(predictions, summarise(test, predictions, losses), results, scores)


def scoring_config(params) -> ScoringConfig:
    """From the `evaluate` params group."""
    return ScoringConfig(
        params.generation_batch,
        params.nll_token_budget,
        params.max_new_tokens.model_dump(),
        params.min_new_tokens,
        params.dtype,
    )


def read_benchmarks(folder: Path) -> list[Question]:
    return [q for path in sorted(Path(folder).glob("*.jsonl")) for q in read_questions(path)]


def read_scorable(folder: Path, per_type: int | None = None) -> list[Item]:
    """Every file's items (the first `per_type` of each file when given), checked to be scorable."""
    items = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        for item in read_items(path)[:per_type]:
            check_scorable(item, str(path))
            items.append(item)
    if not items:
        raise DataError(folder, "no items to evaluate")
    return items


def write_test_predictions(folder: Path, results: TestResults) -> None:
    write_json_lines(folder / "test.jsonl", (p.to_json() for p in results.predictions))
    for shots, rows in results.benchmark_results.items():
        write_json_lines(folder / f"benchmarks-{shots}shot.jsonl", rows)
