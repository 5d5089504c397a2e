"""Stage evaluate@<setting>: every epoch checkpoint that can be chosen (at or after evaluate.min_epoch)
scored on valid, the best (highest valid score, ties to the earlier) scored on test and on the
benchmarks; flat metrics in metrics/settings/<setting>.json, per-item predictions in
metrics/predictions/<setting>/ (rewritten, never appended), and the scores logged to the setting's
MLflow run."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import atomic_dir, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.core.tracking import log_evaluation, require_tracking_server
from doit_study.evaluation.item_scoring import ScoringConfig, read_scorable
from doit_study.evaluation.selection import Selection
from doit_study.evaluation.setting import evaluate_setting, write_setting_predictions
from doit_study.evaluation.test_scoring import TestPlan, read_benchmarks
from doit_study.params.base import read_group
from doit_study.params.evaluate import EvaluateParams
from doit_study.params.prompting import PromptingParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "checkpoints": "models/sft/<setting>",
        "annotated": "data/annotated (valid/ and test/)",
        "benchmarks": "data/benchmarks",
        "metrics": "metrics/settings/<setting>.json",
        "predictions": "metrics/predictions/<setting>",
    }
    args = stage_args(__doc__, argv, names={"setting": "the setting"}, paths=paths)
    params = read_group(args.params, EvaluateParams)
    scoring = ScoringConfig.from_params(params)
    selection = Selection.from_params(params, scoring)
    plan = TestPlan.from_params(params, scoring, read_group(args.params, PromptingParams))
    require_tracking_server()  # the scores are logged at the end: fail now, not after scoring
    valid = read_scorable(args.annotated / "valid", params.valid_per_ability)
    test = read_scorable(args.annotated / "test")
    questions = read_benchmarks(args.benchmarks)

    evaluated = evaluate_setting(
        args.setting, args.checkpoints, valid, test, questions, selection, plan, args.params
    )
    with atomic_dir(args.predictions) as tmp:
        write_setting_predictions(Path(tmp), evaluated)
    write_json(args.metrics, evaluated.metrics)

    metrics = evaluated.metrics
    reported = {k: v for k, v in metrics.items() if k.startswith(("test.", "benchmark.")) or k == "overall"}
    checkpoint = evaluated.checkpoint
    run_id = log_evaluation(
        args.setting, checkpoint["sha256"], evaluated.valid_by_epoch(), reported, checkpoint
    )
    overall = metrics["overall"]
    print(f"evaluate@{args.setting}: best epoch {evaluated.best}, overall {overall:.4f}, MLflow run {run_id}")


if __name__ == "__main__":
    run_stage(main)
