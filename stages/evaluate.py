"""Stage evaluate@<setting>: every epoch checkpoint that can be chosen (at or after evaluate.min_epoch)
scored on valid, the best (highest valid score, ties to the earlier) scored on test and on the
benchmarks; flat metrics
in metrics/settings/<setting>.json, per-item predictions in metrics/predictions/<setting>/ (rewritten,
never appended), and the scores logged to the setting's MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from doit_study.checkpoints import load_checkpoint
from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.evaluation import read_scorable, scoring_config
from doit_study.io import DataError, atomic_dir, write_json, write_json_lines
from doit_study.modeling import load_tokenizer
from doit_study.results import in_domain_mean, select_best_epoch, setting_metrics
from doit_study.scorecard import (
    budget_metrics,
    read_benchmarks,
    score_test_and_benchmarks,
    write_test_predictions,
)
from doit_study.selection import recorded_selection, score_on_valid, selection_spec
from doit_study.tracking import RUN_RECORD, log_evaluation, require_tracking_server


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--setting", required=True)
    parser.add_argument("--checkpoints", required=True, help="models/sft/<setting>")
    parser.add_argument("--annotated", required=True, help="data/annotated (valid/ and test/)")
    parser.add_argument("--benchmarks", required=True, help="data/benchmarks")
    parser.add_argument("--metrics", required=True, help="metrics/settings/<setting>.json")
    parser.add_argument("--predictions", required=True, help="metrics/predictions/<setting>")
    args = parser.parse_args(argv)
    params = load_group(args.params, "evaluate")
    require_tracking_server()  # the scores are logged at the end: fail now, not after scoring
    record_path = Path(args.checkpoints) / RUN_RECORD
    if not record_path.is_file():
        raise DataError(record_path, "no run record: train this setting first")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    checkpoints = {c["epoch"]: c for c in record["checkpoints"]}
    base = Path(record["base_model"]["path"])
    valid = read_scorable(Path(args.annotated) / "valid", params.valid_per_ability)
    test = read_scorable(Path(args.annotated) / "test")
    questions = read_benchmarks(Path(args.benchmarks))
    config = scoring_config(params)
    torch.manual_seed(0)  # nothing here samples; seeded so that nothing can differ between runs

    # with train.keep_checkpoints: best the train stage scored every epoch on valid and kept one
    by_epoch = recorded_selection(Path(args.checkpoints), selection_spec(params, valid)) or {
        epoch: score_on_valid(
            Path(checkpoints[epoch]["path"]),
            base,
            valid,
            config,
            f"{args.setting} valid epoch {epoch}",
            params.device_map,
        )
        for epoch in sorted(checkpoints)
        if epoch >= params.min_epoch  # an earlier checkpoint cannot be chosen: it is not scored
    }
    valid_predictions = {epoch: predictions for epoch, (predictions, _) in by_epoch.items()}
    valid_summaries = {epoch: summary for epoch, (_, summary) in by_epoch.items()}
    scores = {epoch: in_domain_mean(summary) for epoch, summary in valid_summaries.items()}
    try:
        best = select_best_epoch(scores, params.min_epoch)
    except ValueError as error:
        raise DataError(args.params, str(error), None, "evaluate.min_epoch") from None
    if best not in checkpoints:
        message = f"the selected epoch {best} has no checkpoint (pruned?): retrain the setting"
        raise DataError(record_path, message)

    path = Path(checkpoints[best]["path"])
    model, tokenizer = load_checkpoint(path, base, config.dtype, params.device_map), load_tokenizer(path)
    label = f"{args.setting} epoch {best}"
    results = score_test_and_benchmarks(
        model, tokenizer, test, questions, config, params.shots, params.benchmark_batch, label
    )
    metrics = setting_metrics(
        best,
        valid_summaries[best],
        results.summary,
        results.benchmark_scores,
        record["params"]["parameters"],
        record["params"]["examples"],
    ) | budget_metrics(results.budgets)
    with atomic_dir(args.predictions) as tmp:
        for epoch, predictions in valid_predictions.items():
            write_json_lines(Path(tmp) / f"valid-epoch-{epoch:02d}.jsonl", (p.to_json() for p in predictions))
        write_test_predictions(Path(tmp), results)
        epochs = [
            {"epoch": epoch, "valid_score": scores[epoch], "summary": valid_summaries[epoch]}
            for epoch in sorted(scores)
        ]
        write_json(
            Path(tmp) / "epochs.json", {"best_epoch": best, "min_epoch": params.min_epoch, "epochs": epochs}
        )
    write_json(args.metrics, metrics)

    valid_by_epoch = {
        epoch: {"valid.score": scores[epoch]} | {f"valid.{name}.acc": e["acc"] for name, e in summary.items()}
        for epoch, summary in valid_summaries.items()
    }
    reported = {k: v for k, v in metrics.items() if k.startswith(("test.", "benchmark.")) or k == "overall"}
    run_id = log_evaluation(
        args.setting, checkpoints[best]["sha256"], valid_by_epoch, reported, checkpoints[best]
    )
    print(
        f"evaluate@{args.setting}: best epoch {best}, overall {metrics['overall']:.4f}, MLflow run {run_id}"
    )


if __name__ == "__main__":
    run_stage(main)
