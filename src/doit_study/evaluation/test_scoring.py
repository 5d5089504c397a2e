"""What is reported for a model: the test sets (accuracy, gold-answer loss, the generation budgets
they were scored under) and every benchmark suite at every number of shots. Used by the evaluate
stages only; training's selection on valid needs `item_scoring` alone."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from doit_study.core.files import write_json_lines
from doit_study.core.schema import Item
from doit_study.evaluation.benchmark_scoring import score_benchmark
from doit_study.evaluation.item_scoring import (
    Prediction,
    ScoringConfig,
    answer_budgets,
    score_items,
    summarise,
    with_progress,
)
from doit_study.evaluation.promptings import generate_open_answers, prompting_metrics, score_promptings
from doit_study.items.benchmarks import Question, read_questions
from doit_study.params.evaluate import EvaluateParams, OpenAnswers
from doit_study.params.prompting import PromptingParams


@dataclass
class TestResults:
    __test__ = False  # not a pytest class

    predictions: list[Prediction]
    summary: dict[str, dict]
    benchmark_results: dict[int, list[dict]]
    benchmark_scores: dict[str, float]
    budgets: dict[str, dict]
    promptings: dict[str, tuple[list[Prediction], dict]] = field(default_factory=dict)  # FLAN
    open_answers: list[dict] = field(default_factory=list)  # LIMIT, for the judge


@dataclass(frozen=True)
class TestPlan:
    """What a model is scored on beyond valid: test under `scoring`, the benchmarks at each number
    of `shots`; with `instructions` (FLAN's two promptings, evaluate.cot_prompting) the chain items
    again under each; with `open_answers` (LIMIT) free answers to the open-ended items."""

    __test__ = False  # not a pytest class

    scoring: ScoringConfig
    shots: tuple[int, ...]
    benchmark_batch: int
    instructions: Mapping[str, str] | None
    open_answers: OpenAnswers | None

    @classmethod
    def from_params(
        cls, evaluate: EvaluateParams, scoring: ScoringConfig, prompting: PromptingParams
    ) -> TestPlan:
        instructions = prompting.model_dump() if evaluate.cot_prompting else None
        return cls(
            scoring, tuple(evaluate.shots), evaluate.benchmark_batch, instructions, evaluate.open_answers
        )


def score_test_and_benchmarks(
    model, tokenizer, test: Sequence[Item], questions: Sequence[Question], plan: TestPlan, label: str
) -> TestResults:
    """Test, the benchmarks, and what else the plan asks for."""
    config = plan.scoring
    predictions = with_progress(f"{label} test", len(test), score_items, model, tokenizer, test, config)
    results, scores = {}, {}
    n_questions = sum(q.split == "test" for q in questions)
    for k in plan.shots if questions else []:
        results[k] = with_progress(
            f"{label} benchmarks {k}-shot",
            n_questions,
            score_benchmark,
            model,
            tokenizer,
            questions,
            k,
            plan.benchmark_batch,
        )
        for suite in sorted({r["suite"] for r in results[k]}):
            picked = [r for r in results[k] if r["suite"] == suite]
            scores[f"{suite}.{k}shot.acc"] = sum(r["correct"] for r in picked) / len(picked)
            scores[f"{suite}.{k}shot.continuous"] = math.fsum(r["continuous"] for r in picked) / len(picked)
    summary = summarise(test, predictions)
    found = TestResults(predictions, summary, results, scores, answer_budgets(tokenizer, test, config))
    if plan.instructions is not None:
        found.promptings = score_promptings(model, tokenizer, test, config, plan.instructions)
    if plan.open_answers:
        found.open_answers = generate_open_answers(model, tokenizer, test, config, plan.open_answers)
    return found


def test_metrics(results: TestResults) -> dict[str, float | int]:
    """What the test scoring adds to a metrics file beyond the sets: benchmarks, budgets, promptings."""
    metrics = {f"benchmark.{key}": value for key, value in results.benchmark_scores.items()}
    return metrics | budget_metrics(results.budgets) | prompting_metrics(results.promptings)


def budget_metrics(budgets: dict[str, dict]) -> dict[str, float | int]:
    """`budget.<kind>.tokens` and `budget.<kind>.gold_fit` for the kinds that were scored."""
    metrics: dict[str, float | int] = {}
    for kind, entry in budgets.items():
        if entry["gold_fit"] is not None:
            metrics[f"budget.{kind}.tokens"] = entry["tokens"]
            metrics[f"budget.{kind}.gold_fit"] = entry["gold_fit"]
    return metrics


def read_benchmarks(folder: Path) -> list[Question]:
    return [q for path in sorted(Path(folder).glob("*.jsonl")) for q in read_questions(path)]


def write_test_predictions(folder: Path, results: TestResults) -> None:
    write_json_lines(folder / "test.jsonl", (p.to_json() for p in results.predictions))
    for shots, rows in results.benchmark_results.items():
        write_json_lines(folder / f"benchmarks-{shots}shot.jsonl", rows)
    for name, (predictions, _) in results.promptings.items():
        write_json_lines(folder / f"test-{name}.jsonl", (p.to_json() for p in predictions))
    if results.open_answers:
        write_json_lines(folder / "open.jsonl", results.open_answers)
