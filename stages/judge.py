"""Stage judge: the open-ended answers of the settings in `judge.settings` (metrics/predictions/
<setting>/open.jsonl, written by evaluate with evaluate.open_answers) compared by a model judge with
the reference answers, or with another setting's answers, in both orders (LIMIT's model-based
paradigm; doit_study.evaluation.judging). Every judgement per item in metrics/judge/<setting>.jsonl,
the win rates with their intervals in metrics/judge.json; the judge's responses cached in
metrics/judge_cache/ (a persistent output), so judging again asks the judge only for what it has not
answered."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from doit_study.core.files import DataError, atomic_dir, read_json_lines, write_json, write_json_lines
from doit_study.core.stage import run_stage, stage_args
from doit_study.evaluation.judge_clients import EndpointJudge, LocalJudge
from doit_study.evaluation.judging import (
    JudgeCache,
    comparisons_for,
    flat_metrics,
    judge_comparisons,
    summarise_judgements,
)
from doit_study.params.base import read_group
from doit_study.params.judge import JudgeParams


def open_answers(predictions: Path, setting: str) -> list[dict]:
    path = predictions / setting / "open.jsonl"
    if not path.is_file():
        raise DataError(path, "no open answers: set evaluate.open_answers and evaluate this setting")
    return [row for _, row in read_json_lines(path)]


def main(argv: list[str] | None = None) -> None:
    paths = {
        "predictions": "metrics/predictions",
        "models": "models/base (a local judge's folder is <model>/)",
        "cache": "metrics/judge_cache",
        "out": "metrics/judge (one JSON Lines file per setting)",
        "metrics": "metrics/judge.json",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, JudgeParams)
    predictions, metrics = args.predictions, {}
    judge = None
    if params.settings and params.endpoint:
        end = params.endpoint
        judge = EndpointJudge(
            end.url, end.model, end.api_key_env, params.max_tokens, params.retries, params.timeout_s
        )
    elif params.settings:
        folder = Path(args.models) / params.local_model
        judge = LocalJudge(folder, params.max_tokens, params.batch, params.trust_remote_code)
    if judge:
        try:
            judge.check()  # before any work: an endpoint that does not answer is named now
        except ConnectionError as error:
            raise DataError(args.params, str(error), None, "judge.endpoint") from None
    cache = JudgeCache(Path(args.cache), judge.identity) if judge else None
    others = open_answers(predictions, params.compare_with) if params.compare_with else None
    with atomic_dir(args.out) as tmp:
        for setting in tqdm(params.settings, desc="judge", unit="setting"):
            answers = open_answers(predictions, setting)
            try:
                comparisons = comparisons_for(answers, others)
            except ValueError as error:
                raise DataError(predictions / setting / "open.jsonl", str(error)) from None
            records, asked = judge_comparisons(comparisons, judge, cache)
            write_json_lines(Path(tmp) / f"{setting}.jsonl", records)
            summary = summarise_judgements(records, [a["type"] for a in answers], params.bootstrap)
            metrics |= flat_metrics(setting, summary) | {f"{setting}.requests": asked}
    Path(args.cache).mkdir(parents=True, exist_ok=True)  # an output even when nothing is judged
    write_json(args.metrics, dict(sorted(metrics.items())))
    print(f"judge: {len(params.settings)} settings, against {params.compare_with or 'the reference'}")


if __name__ == "__main__":
    run_stage(main)
