"""Stage evaluate@<setting>: every epoch checkpoint that can be chosen (at or after evaluate.min_epoch)
scored on valid, the best (highest valid score, ties to the earlier) scored on test and on the
benchmarks; flat metrics in metrics/settings/<setting>.json, per-item predictions in
metrics/predictions/<setting>/ (rewritten, never appended), and the scores logged to the setting's
MLflow run."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.evaluation import read_scorable
from doit_study.io import atomic_dir, write_json
from doit_study.scorecard import read_benchmarks
from doit_study.setting_evaluation import evaluate_setting, write_setting_predictions
from doit_study.tracking import log_evaluation, require_tracking_server


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
    instructions = load_group(args.params, "prompting").model_dump()
    require_tracking_server()  # the scores are logged at the end: fail now, not after scoring
    valid = read_scorable(Path(args.annotated) / "valid", params.valid_per_ability)
    test = read_scorable(Path(args.annotated) / "test")
    questions = read_benchmarks(Path(args.benchmarks))

    evaluated = evaluate_setting(
        args.setting, Path(args.checkpoints), valid, test, questions, params, Path(args.params), instructions
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
