"""Stage evaluate_base@<model>: a foundation model before any instruction tuning, scored on test and
the benchmarks (the paper's Acc(f, i) in Complexity, and the zero-data point of every curve).
Metrics in metrics/foundations/<model>.json, predictions in metrics/predictions/base-<model>/."""

from __future__ import annotations

import torch

from doit_study.core.files import atomic_dir, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.evaluation.item_scoring import ScoringConfig, read_scorable
from doit_study.evaluation.setting_metrics import overall, split_metrics
from doit_study.evaluation.test_scoring import (
    TestPlan,
    read_benchmarks,
    score_test_and_benchmarks,
    test_metrics,
    write_test_predictions,
)
from doit_study.modeling.folders import load_causal_lm, load_tokenizer, parameter_count, placed_for_inference
from doit_study.params.base import read_group
from doit_study.params.evaluate import EvaluateParams
from doit_study.params.prompting import PromptingParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "base": "models/base/<model>",
        "annotated": "data/annotated (test/)",
        "benchmarks": "data/benchmarks",
        "metrics": "metrics/foundations/<model>.json",
        "predictions": "metrics/predictions/base-<model>",
    }
    args = stage_args(__doc__, argv, names={"model": "a key of foundation.models"}, paths=paths)
    params = read_group(args.params, EvaluateParams)
    scoring = ScoringConfig.from_params(params)
    plan = TestPlan.from_params(params, scoring, read_group(args.params, PromptingParams))
    test = read_scorable(args.annotated / "test")
    questions = read_benchmarks(args.benchmarks)
    torch.manual_seed(0)
    model = load_causal_lm(args.base, dtype=scoring.dtype, device_map=params.device_map)
    model, tokenizer = placed_for_inference(model, params.device_map), load_tokenizer(args.base)
    results = score_test_and_benchmarks(model, tokenizer, test, questions, plan, f"base {args.model}")
    metrics = {"overall": overall(results.summary), "parameters": parameter_count(model)}
    metrics |= split_metrics("test", results.summary)
    metrics |= test_metrics(results)
    with atomic_dir(args.predictions) as tmp:
        write_test_predictions(tmp, results)
    write_json(args.metrics, dict(sorted(metrics.items())))
    print(f"evaluate_base@{args.model}: overall {metrics['overall']:.4f}")


if __name__ == "__main__":
    run_stage(main)
