"""Scoring items by the paper's protocol (`../shared/doit-protocol.md`, "Evaluation protocol").

Format-0 items are scored by exact match: greedy generation, parsed by answer kind (`answers`),
compared with the parsed gold. Single-choice and true/false answers can instead be read from the
next-token log-probabilities of the options at the answer's first position (`choice_parse`: the
authors' `choice_parse_mode`; docs/evaluation.md). Format-1 items (gold plus distractors) are
scored by perplexity: the gold wins if and only if its PPL is strictly below every distractor's, so
a tie counts as wrong. An output that does not parse is wrong and counted as `unparsed`; it never
raises.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from doit_study.core.files import DataError, read_items
from doit_study.core.progress import Progress, rate_text
from doit_study.core.schema import AnswerKind, Item
from doit_study.evaluation.continuous import (
    chance,
    distractor_margin,
    letter_sets,
    nll_per_byte,
    option_probability,
    summarise_continuous,
)
from doit_study.evaluation.model_calls import continuation_nll, generate_greedy
from doit_study.items.answers import (
    FALSE_MARKERS,
    LETTERS,
    MULTI_LETTERS,
    TRUE_MARKERS,
    bare_answer,
    math_equivalent,
    parse_answer,
    parse_letter,
    parse_true_false,
)
from doit_study.modeling.chat import chat_ids, encode_prompt
from doit_study.params.evaluate import EvaluateParams

_OPTION_LINE = re.compile(r"^\s*([A-F])\s*[.．、:：)）]", re.MULTILINE)
CHOICE_KINDS = (AnswerKind.letter, AnswerKind.true_false)  # the kinds `choice_parse` applies to


@dataclass(frozen=True)
class ScoringConfig:
    generation_batch: int
    nll_token_budget: int
    max_new_tokens: Mapping[str, int]  # per answer kind: the least generation budget
    min_new_tokens: int  # an answer has at least this many tokens: stop tokens wait until then
    dtype: str  # the weights' dtype while scoring (bfloat16 halves a large model's memory)
    choice_parse: str  # letters and true/false: text | logits | both (the authors' default)
    gold_length_quantile: float | None  # budgets raised to hold this share of gold answers

    @classmethod
    def from_params(cls, evaluate: EvaluateParams) -> ScoringConfig:
        return cls(
            evaluate.generation_batch,
            evaluate.nll_token_budget,
            evaluate.max_new_tokens.model_dump(),
            evaluate.min_new_tokens,
            evaluate.dtype,
            evaluate.choice_parse,
            evaluate.gold_length_quantile,
        )


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
    parsed_from: str | None = None  # letters and true/false: "text" or "logits"
    option_logprobs: dict[str, float] | None = None  # letters and true/false: first-token scores
    task: str | None = None  # the item's task (FLAN's unseen tasks are read from it)
    chance: float | None = None  # a random guess's expected score on this item
    gold_nll: float | None = None  # the gold answer's mean negative log-likelihood per token
    continuous: float | None = None  # the continuous score of the gold (doit_study.evaluation.continuous)
    family: str | None = None  # which continuous score: option | margin | bytes

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


def item_letters(item: Item) -> str:
    """The option letters the question offers ("ABC" for three options; A-D when it lists none)."""
    found = sorted(set(_OPTION_LINE.findall(item.messages[-2].content)))
    return "".join(found) or LETTERS


def _show(kind: AnswerKind, parsed) -> str | None:
    if parsed is None:
        return None
    if kind is AnswerKind.math:
        return str(parsed[-1])  # math-verify keeps the matched source text last
    return str(parsed)


def _parse(kind: AnswerKind, text: str, letters: str):
    return parse_letter(text, letters) if kind is AnswerKind.letter else parse_answer(kind, text)


def compare_answer(
    kind: AnswerKind, output: str, gold: str, letters: str = LETTERS
) -> tuple[bool, bool, str | None]:
    """(correct, unparsed, parsed answer) of one generated answer against the gold text."""
    parsed = _parse(kind, output, letters)
    if parsed is None:
        return False, True, None
    if kind is AnswerKind.math:
        return math_equivalent(output, gold), False, _show(kind, parsed)
    return parsed == _parse(kind, gold, letters), False, _show(kind, parsed)


@dataclass(frozen=True)
class OptionTokens:
    """The first token of each option letter and true/false marker, whose next-token scores the
    logits reading compares (the authors sum the markers' scores; here their probabilities)."""

    letters: dict[str, int]
    true: tuple[int, ...]
    false: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer) -> OptionTokens:
        def first(text: str) -> int:
            return tokenizer.encode(text, add_special_tokens=False)[0]

        letters = {letter: first(letter) for letter in MULTI_LETTERS}
        if len(set(letters.values())) != len(letters):
            raise DataError(tokenizer.name_or_path, "the tokenizer does not tell the letters A-F apart")
        true, false = {first(m) for m in TRUE_MARKERS}, {first(m) for m in FALSE_MARKERS}
        return cls(letters, tuple(sorted(true - false)), tuple(sorted(false - true)))

    def ids(self) -> list[int]:
        return sorted({*self.letters.values(), *self.true, *self.false})

    def scores(self, item: Item, logprobs: Mapping[int, float]) -> dict[str, float] | None:
        """Per option of the item, its log-probability as the answer's first token."""
        if item.answer_kind is AnswerKind.letter:
            return {letter: logprobs[self.letters[letter]] for letter in item_letters(item)}
        if not self.true or not self.false:  # the markers share their first tokens: no reading
            return None
        return {
            "T": _logsumexp([logprobs[t] for t in self.true]),
            "F": _logsumexp([logprobs[t] for t in self.false]),
        }


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def read_choice(
    kind: AnswerKind, text: str, scores: Mapping[str, float] | None, mode: str, letters: str
) -> tuple[str | None, str]:
    """(answer, where it was read) for a letter or true/false item. `text`: the careful parser.
    `logits`: the option with the highest first-token score. `both` (the authors' rule): the text
    when it is a bare letter (true/false: when it states a verdict), else the logits."""
    from_text = parse_letter(text, letters) if kind is AnswerKind.letter else parse_true_false(text)
    if mode == "text" or scores is None:
        return from_text, "text"
    by_logits = max(scores, key=lambda option: (scores[option], -list(scores).index(option)))
    if mode == "logits":
        return by_logits, "logits"
    if kind is AnswerKind.letter:
        return (from_text, "text") if len(bare_answer(text)) == 1 else (by_logits, "logits")
    return (from_text, "text") if from_text is not None else (by_logits, "logits")


def _quantile(values: Sequence[int], share: float) -> int:
    """The nearest-rank quantile: the smallest value at or above `share` of the values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def answer_budgets(tokenizer, items: Sequence[Item], config: ScoringConfig) -> dict[str, dict]:
    """Per answer kind: the generation budget (the params' least budget, raised to hold
    `gold_length_quantile` of the gold answers' token lengths) and the share of gold answers it
    holds. No kind is unscorable by construction: a budget shorter than its golds shows here."""
    lengths: dict[str, list[int]] = defaultdict(list)
    for item in items:
        if item.question_format == 0:
            tokens = tokenizer.encode(item.gold, add_special_tokens=False)
            lengths[item.answer_kind.value].append(len(tokens))
    budgets = {}
    for kind, least in sorted(config.max_new_tokens.items()):
        found = lengths.get(kind, [])
        share = config.gold_length_quantile
        needed = _quantile(found, share) if found and share else 0
        tokens = max(least, needed)
        fit = sum(n <= tokens for n in found) / len(found) if found else None
        budgets[kind] = {"tokens": tokens, "gold_fit": fit}
    return budgets


def _score_generated(model, tokenizer, items: Sequence[Item], config: ScoringConfig, progress):
    ids, options = chat_ids(tokenizer), None
    if any(item.answer_kind in CHOICE_KINDS for item in items):  # their continuous score reads them
        options = OptionTokens.of(tokenizer)
    budgets = answer_budgets(tokenizer, items, config)
    prompts = [encode_prompt(tokenizer, item.messages) for item in items]
    outputs, first = generate_greedy(
        model,
        prompts,
        [budgets[item.answer_kind.value]["tokens"] for item in items],
        [ids.end_of_turn, ids.user, ids.assistant],
        ids.pad,
        config.generation_batch,
        progress,
        config.min_new_tokens,
        options.ids() if options else (),
    )
    # per item: the answer alone, the answer and its stop token (the training loss), and the other
    # letter sets with their stop token (without it "A" would be a prefix of "AB": not exclusive)
    sets = [letter_sets(item.gold, item_letters(item)) if _is_multi(item) else None for item in items]
    choices = [
        [
            (gold := tokenizer.encode(item.gold, add_special_tokens=False)),
            [*gold, ids.end_of_turn],
            *(
                [*tokenizer.encode(other, add_special_tokens=False), ids.end_of_turn]
                for other in (found or [])[1:]
            ),
        ]
        for item, found in zip(items, sets, strict=True)
    ]
    nlls = continuation_nll(model, prompts, choices, ids.pad, config.nll_token_budget)
    return [
        _with_gold_nll(
            _judged(item, tokenizer.decode(tokens, skip_special_tokens=True), logprobs, options, config),
            item,
            nll,
            [len(c) for c in ids_],
        )
        for item, tokens, logprobs, nll, ids_ in zip(items, outputs, first, nlls, choices, strict=True)
    ]


def _is_multi(item: Item) -> bool:
    return item.answer_kind is AnswerKind.multi_letter


def _with_gold_nll(prediction: Prediction, item: Item, nlls: list[float], tokens: list[int]) -> Prediction:
    """The gold's loss (with its stop token), and the continuous score of items not read by their
    options: a multi-letter gold among the letter sets, else the answer's own tokens per byte."""
    values = {"gold_nll": nlls[1]}
    if prediction.family is None and len(nlls) > 2:  # every set ends with the stop token: it cancels
        totals = {k: -nll * n for k, (nll, n) in enumerate(zip(nlls, tokens, strict=True)) if k != 0}
        values |= {"continuous": option_probability(totals, 1), "family": "option"}
    elif prediction.family is None:
        values |= {"continuous": nll_per_byte(nlls[0], tokens[0], item.gold), "family": "bytes"}
    return replace(prediction, **values)


def _judged(item: Item, text: str, logprobs, options: OptionTokens | None, config) -> Prediction:
    kind, gold, letters = item.answer_kind, gold_text(item), item_letters(item)
    head = (item.id, item.type, kind.value)
    if kind not in CHOICE_KINDS:
        correct, unparsed, parsed = compare_answer(kind, text, gold)
        return Prediction(*head, correct, unparsed, gold, parsed, text)
    scores = options.scores(item, dict(zip(options.ids(), logprobs, strict=True))) if options else None
    parsed, source = read_choice(kind, text, scores, config.choice_parse, letters)
    wanted = _parse(kind, gold, letters)
    correct = parsed is not None and parsed == wanted
    found = Prediction(*head, correct, parsed is None, gold, parsed, text, None, source, scores)
    if scores is None:  # true/false markers that share first tokens: no option reading
        return found
    return replace(found, continuous=option_probability(scores, wanted), family="option")


def _score_ranked(model, tokenizer, items: Sequence[Item], config: ScoringConfig, progress):
    ids = chat_ids(tokenizer)
    prompts = [encode_prompt(tokenizer, item.messages) for item in items]
    choices = [
        [[*tokenizer.encode(c, add_special_tokens=False), ids.end_of_turn] for c in item.choices]
        for item in items
    ]
    nlls = continuation_nll(model, prompts, choices, ids.pad, config.nll_token_budget, progress)
    predictions = []
    for item, nll in zip(items, nlls, strict=True):
        ppl = tuple(math.exp(value) for value in nll)
        kind = item.answer_kind.value
        won = ppl[0] < min(ppl[1:])
        margin = distractor_margin(nll)
        found = Prediction(item.id, item.type, kind, won, False, item.gold, ppl=ppl, gold_nll=nll[0])
        predictions.append(replace(found, continuous=margin, family="margin"))
    return predictions


def score_items(
    model,
    tokenizer,
    items: Sequence[Item],
    config: ScoringConfig,
    progress: Callable[[int], None] | None = None,
) -> list[Prediction]:
    """Every item scored by its format; predictions in the order of `items`."""
    generated = [i for i, item in enumerate(items) if item.question_format == 0]
    ranked = [i for i, item in enumerate(items) if item.question_format == 1]
    predictions: dict[int, Prediction] = {}
    for members, score in ((generated, _score_generated), (ranked, _score_ranked)):
        if members:
            scored = score(model, tokenizer, [items[i] for i in members], config, progress)
            predictions |= dict(zip(members, scored, strict=True))
    return [
        replace(predictions[i], task=items[i].task, chance=random_baseline(items[i]))
        for i in range(len(items))
    ]


def random_baseline(item: Item) -> float:
    """Chance of a random guess, from the item itself (the protocol's rules)."""
    if item.question_format == 1:
        return 1 / len(item.choices)
    kind = item.answer_kind
    if kind is AnswerKind.true_false:
        return 0.5
    if kind in (AnswerKind.fill, AnswerKind.math, AnswerKind.open):
        return 0.0
    options = len(item_letters(item))
    if kind is AnswerKind.letter:
        return 1 / options
    picked = len(parse_answer(kind, item.gold) or "") or 1
    return 1 / math.comb(options, picked)


def continuous_chance(item: Item, prediction: Prediction) -> float | None:
    """The guessing level of an item's continuous score."""
    if prediction.family == "option" and _is_multi(item):  # one of every non-empty letter set
        return 1 / (2 ** len(item_letters(item)) - 1)
    if prediction.family == "option":  # a guess among the options: accuracy's chance
        return random_baseline(item)
    return chance(prediction.family) if prediction.family else None


def summarise(items: Sequence[Item], predictions: Sequence[Prediction]) -> dict[str, dict]:
    """Per type: accuracy, item count, unparsed count, the random-guess baseline, the mean gold-answer
    loss and the continuous score (doit_study.evaluation.continuous). Accuracy is a count over n, so equal
    counts give equal scores."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[item.type].append(index)
    summary = {}
    for name, members in sorted(groups.items()):
        summary[name] = {
            "acc": sum(predictions[k].correct for k in members) / len(members),
            "n": len(members),
            "unparsed": sum(predictions[k].unparsed for k in members),
            "random": math.fsum(random_baseline(items[k]) for k in members) / len(members),
        }
        if all(predictions[k].gold_nll is not None for k in members):
            summary[name]["loss"] = math.fsum(predictions[k].gold_nll for k in members) / len(members)
        scored = [k for k in members if predictions[k].family is not None]
        if scored:
            summary[name] |= summarise_continuous(
                [predictions[k].continuous for k in scored],
                [predictions[k].family for k in scored],
                [continuous_chance(items[k], predictions[k]) for k in scored],
            )
    return summary


def with_progress(label: str, total: int, score, *args):
    """`score(*args, progress=...)` with its progress shown (core.progress), then one summary line
    (items, seconds, rate) in any case."""
    progress = Progress(label, total, "item")
    start = time.perf_counter()
    try:
        result = score(*args, progress=progress.update)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    print(f"{label}: {total} items in {seconds:.1f} s ({rate_text(total, seconds, 'item')})", flush=True)
    return result


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
