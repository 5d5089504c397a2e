"""One setting evaluated as the paper does it: every checkpoint that can be chosen (at or after
`min_epoch`) scored on valid (or the selection the train stage already made, with
`train.keep_checkpoints: best`), the best (highest valid score, ties to the earlier) scored on test
and the benchmarks, and the flat metrics of the setting. The evaluate stages call this; it reads
checkpoints and writes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from doit_study.core.files import DataError, read_json, write_json, write_json_lines
from doit_study.core.schema import Item
from doit_study.core.tracking import RUN_RECORD
from doit_study.evaluation.item_scoring import Prediction
from doit_study.evaluation.promptings import prompting_metrics
from doit_study.evaluation.selection import (
    Selection,
    load_for_scoring,
    recorded_selection,
    score_on_valid,
    select_best_epoch,
)
from doit_study.evaluation.setting_metrics import in_domain_mean, setting_metrics
from doit_study.evaluation.test_scoring import (
    TestPlan,
    TestResults,
    budget_metrics,
    score_test_and_benchmarks,
    write_test_predictions,
)
from doit_study.items.benchmarks import Question
from doit_study.modeling.checkpoints import epoch_dir, verified_weights


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
    return read_json(checkpoints / RUN_RECORD, "no run record: train this setting first")


def given_checkpoints(checkpoints: Path, record: dict) -> dict[int, dict]:
    """The run record's checkpoints by epoch, each read from the folder the stage was given (what DVC
    tracks as its dep), never from the path recorded at training time: that one may be another
    copy. A workspace may be copied or moved (bench copies the repository), so the recorded path is
    compared by what names a checkpoint, its setting folder and epoch folder, not by its absolute
    location; one that names another folder is an error naming both."""
    by_epoch = {}
    for entry in record["checkpoints"]:
        recorded, given = Path(entry["path"]), epoch_dir(checkpoints, entry["epoch"])
        if (recorded.parent.name, recorded.name) != (Path(os.path.abspath(checkpoints)).name, given.name):
            message = f"records checkpoint {recorded}, which is not {given} of the given folder {checkpoints}"
            raise DataError(checkpoints / RUN_RECORD, message, None, "checkpoints")
        by_epoch[entry["epoch"]] = entry | {"path": str(given)}
    return by_epoch


def evaluate_setting(
    setting: str,
    checkpoints: Path,
    valid: list[Item],
    test: list[Item],
    questions: list[Question],
    selection: Selection,
    plan: TestPlan,
    params_path: Path,
) -> SettingEvaluation:
    """`params_path`: the params file, for errors that name a field of its evaluate group."""
    record = read_run_record(checkpoints)
    by_epoch = given_checkpoints(checkpoints, record)
    base = Path(record["base_model"]["path"])
    config = selection.scoring
    torch.manual_seed(0)  # nothing here samples; seeded so that nothing can differ between runs
    recorded = recorded_selection(checkpoints, selection.spec(valid))
    # every checkpoint this run reads, checked (hash, safetensors header) before any is scored
    for epoch in sorted(by_epoch):
        if recorded or epoch >= selection.min_epoch:  # a recorded selection left only the chosen one
            verified_weights(Path(by_epoch[epoch]["path"]))
    scored, last = recorded or {}, None  # last: (epoch, (model, tokenizer)) of the last one scored
    if not recorded:
        for epoch in sorted(e for e in by_epoch if e >= selection.min_epoch):  # earlier: cannot be chosen
            last = None  # one model in memory at a time
            last = epoch, load_for_scoring(Path(by_epoch[epoch]["path"]), base, config, selection.device_map)
            scored[epoch] = score_on_valid(*last[1], valid, config, f"{setting} valid epoch {epoch}")
    try:
        best = select_best_epoch({e: in_domain_mean(s) for e, (_, s) in scored.items()}, selection.min_epoch)
    except ValueError as error:
        raise DataError(params_path, str(error), None, "evaluate.min_epoch") from None
    if best not in by_epoch:
        message = f"the selected epoch {best} has no checkpoint (pruned?): retrain the setting"
        raise DataError(checkpoints / RUN_RECORD, message)
    if last is None or last[0] != best:  # the best is often the last one scored: still loaded
        last = None
        last = best, load_for_scoring(Path(by_epoch[best]["path"]), base, config, selection.device_map)
    model, tokenizer = last[1]
    label = f"{setting} epoch {best}"
    results = score_test_and_benchmarks(model, tokenizer, test, questions, plan, label)
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
    return SettingEvaluation(best, by_epoch[best], scored, results, metrics, selection.min_epoch)


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
