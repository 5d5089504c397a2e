"""Stage evaluate_base@<size>: a foundation model before any instruction tuning, scored on test and
the benchmarks (the paper's Acc(f, i) in Complexity, and the zero-data point of every curve).
Metrics in metrics/foundations/<size>.json, predictions in metrics/predictions/base-<size>/."""

from __future__ import annotations

from pathlib import Path

import torch

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.evaluation import read_scorable, scoring_config
from doit_study.io import atomic_dir, write_json
from doit_study.modeling import load_causal_lm, load_tokenizer, parameter_count, placed_for_inference
from doit_study.results import overall, split_metrics
from doit_study.scorecard import (
    read_benchmarks,
    score_test_and_benchmarks,
    test_metrics,
    write_test_predictions,
)


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--size", required=True)
    parser.add_argument("--base", required=True, help="models/base/<size>")
    parser.add_argument("--annotated", required=True, help="data/annotated (test/)")
    parser.add_argument("--benchmarks", required=True, help="data/benchmarks")
    parser.add_argument("--metrics", required=True, help="metrics/foundations/<size>.json")
    parser.add_argument("--predictions", required=True, help="metrics/predictions/base-<size>")
    args = parser.parse_args(argv)
    params = load_group(args.params, "evaluate")
    test = read_scorable(Path(args.annotated) / "test")
    questions = read_benchmarks(Path(args.benchmarks))
    config = scoring_config(params)
    torch.manual_seed(0)
    model = load_causal_lm(args.base, dtype=config.dtype, device_map=params.device_map)
    model, tokenizer = placed_for_inference(model, params.device_map), load_tokenizer(args.base)
    instructions = load_group(args.params, "prompting").model_dump()
    label = f"base {args.size}"
    results = score_test_and_benchmarks(model, tokenizer, test, questions, params, label, instructions)
    metrics = {"overall": overall(results.summary), "parameters": parameter_count(model)}
    metrics |= split_metrics("test", results.summary)
    metrics |= test_metrics(results)
    with atomic_dir(args.predictions) as tmp:
        write_test_predictions(Path(tmp), results)
    write_json(args.metrics, dict(sorted(metrics.items())))
    print(f"evaluate_base@{args.size}: overall {metrics['overall']:.4f}")


if __name__ == "__main__":
    run_stage(main)
