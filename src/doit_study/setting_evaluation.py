"""One setting evaluated as the paper does it: every checkpoint that can be chosen (at or after
`min_epoch`) scored on valid (or the selection the train stage already made, with
`train.keep_checkpoints: best`), the best (highest valid score, ties to the earlier) scored on test
and the benchmarks, and the flat metrics of the setting. The evaluate stages call this; it reads
checkpoints and writes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from doit_study.checkpoints import load_checkpoint
from doit_study.evaluation import Prediction, scoring_config
from doit_study.io import DataError, write_json, write_json_lines
from doit_study.modeling import load_tokenizer
from doit_study.promptings import prompting_metrics
from doit_study.results import in_domain_mean, select_best_epoch, setting_metrics
from doit_study.schema import Item
from doit_study.scorecard import (
    TestResults,
    budget_metrics,
    score_test_and_benchmarks,
    write_test_predictions,
)
from doit_study.selection import recorded_selection, score_on_valid, selection_spec
from doit_study.tracking import RUN_RECORD


@dataclass
class SettingEvaluation:
    best: int
    checkpoint: dict  # the run record's entry of the best epoch: epoch, path, sha256
    valid: dict[int, tuple[list[Prediction], dict]]  # epoch -> (predictions, summary)
    test: TestResults
    metrics: dict
    min_epoch: int

    def valid_scores(self) -> dict[int, float]:
        return {epoch: in_domain_mean(summary) for epoch, (_, summary) in self.valid.items()}

    def valid_by_epoch(self) -> dict[int, dict[str, float]]:
        """What MLflow's validation curves show: the selection score and each set's accuracy."""
        scores = self.valid_scores()
        return {
            epoch: {"valid.score": scores[epoch]}
            | {f"valid.{name}.acc": e["acc"] for name, e in summary.items()}
            for epoch, (_, summary) in self.valid.items()
        }


def read_run_record(checkpoints: Path) -> dict:
    path = checkpoints / RUN_RECORD
    if not path.is_file():
        raise DataError(path, "no run record: train this setting first")
    return json.loads(path.read_text(encoding="utf-8"))


def evaluate_setting(
    setting: str,
    checkpoints: Path,
    valid: list[Item],
    test: list[Item],
    questions: list,
    params,
    params_path: Path,
    instructions: dict[str, str] | None = None,
) -> SettingEvaluation:
    """`params`: the evaluate group (its file, for errors that name a field); `instructions`: the
    prompting group's, when chain items are scored under both promptings (evaluate.cot_prompting)."""
    record = read_run_record(checkpoints)
    by_epoch = {c["epoch"]: c for c in record["checkpoints"]}
    base = Path(record["base_model"]["path"])
    config = scoring_config(params)
    torch.manual_seed(0)  # nothing here samples; seeded so that nothing can differ between runs
    scored = recorded_selection(checkpoints, selection_spec(params, valid)) or {
        epoch: score_on_valid(
            Path(by_epoch[epoch]["path"]),
            base,
            valid,
            config,
            f"{setting} valid epoch {epoch}",
            params.device_map,
        )
        for epoch in sorted(by_epoch)
        if epoch >= params.min_epoch  # an earlier checkpoint cannot be chosen: it is not scored
    }
    try:
        best = select_best_epoch({e: in_domain_mean(s) for e, (_, s) in scored.items()}, params.min_epoch)
    except ValueError as error:
        raise DataError(params_path, str(error), None, "evaluate.min_epoch") from None
    if best not in by_epoch:
        message = f"the selected epoch {best} has no checkpoint (pruned?): retrain the setting"
        raise DataError(checkpoints / RUN_RECORD, message)
    path = Path(by_epoch[best]["path"])
    model, tokenizer = load_checkpoint(path, base, config.dtype, params.device_map), load_tokenizer(path)
    label = f"{setting} epoch {best}"
    results = score_test_and_benchmarks(model, tokenizer, test, questions, params, label, instructions)
    metrics = (
        setting_metrics(
            best,
            scored[best][1],
            results.summary,
            results.benchmark_scores,
            record["params"]["parameters"],
            record["params"]["examples"],
        )
        | budget_metrics(results.budgets)
        | prompting_metrics(results.promptings)
    )
    return SettingEvaluation(best, by_epoch[best], scored, results, metrics, params.min_epoch)


def write_setting_predictions(folder: Path, evaluated: SettingEvaluation) -> None:
    """valid-epoch-NN.jsonl per scored epoch, test and benchmark predictions, and epochs.json (each
    epoch's valid score and per-set summary: the epoch noise of the analysis reads it)."""
    for epoch, (predictions, _) in evaluated.valid.items():
        write_json_lines(folder / f"valid-epoch-{epoch:02d}.jsonl", (p.to_json() for p in predictions))
    write_test_predictions(folder, evaluated.test)
    scores = evaluated.valid_scores()
    epochs = [
        {"epoch": epoch, "valid_score": scores[epoch], "summary": summary}
        for epoch, (_, summary) in sorted(evaluated.valid.items())
    ]
    record = {"best_epoch": evaluated.best, "min_epoch": evaluated.min_epoch, "epochs": epochs}
    write_json(folder / "epochs.json", record)
