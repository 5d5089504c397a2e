"""The evaluate stage reads the checkpoints it is given (what DVC tracks as its dep), checked before
anything is scored, never the copy whose path run.json recorded."""

import json
import shutil

import pytest

from doit_study.core.files import DataError, sha256_file
from doit_study.evaluation.item_scoring import ScoringConfig
from doit_study.evaluation.selection import Selection
from doit_study.evaluation.setting import evaluate_setting, given_checkpoints
from doit_study.modeling.checkpoints import CHECKPOINT_RECORD
from doit_study.modeling.folders import WEIGHTS
from doit_study.training.loop import train
from tests.helpers import smoke_group, tiny_llama
from tests.training.test_loop import _config, _examples

PARAMS = smoke_group("evaluate", min_epoch=1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tokenizer):
    """A workspace with models/sft/a trained for two epochs and its run.json, paths as DVC runs it."""
    root = tmp_path_factory.mktemp("workspace")
    out = root / "models/sft/a"
    train(tiny_llama(tokenizer, seed=0), tokenizer, _examples(tokenizer), _config(epochs=2), out)
    checkpoints = [
        {"epoch": e, "path": f"models/sft/a/epoch-0{e}", "sha256": sha256_file(out / f"epoch-0{e}" / WEIGHTS)}
        for e in (1, 2)
    ]
    record = {"checkpoints": checkpoints, "base_model": {"path": "models/base/x"}}
    (out / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return root


def _evaluate(checkpoints):
    selection = Selection.from_params(PARAMS, ScoringConfig.from_params(PARAMS))
    return evaluate_setting("a", checkpoints, [], [], [], selection, None, "params.yaml")


def _copy(workspace, tmp_path):
    copy = tmp_path / "copy" / "models/sft/a"
    shutil.copytree(workspace / "models/sft/a", copy)
    return copy


def test_checkpoints_resolve_in_the_given_folder_of_a_moved_workspace(workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(workspace)  # the recorded relative paths resolve here, to the intact original
    copy = _copy(workspace, tmp_path)
    by_epoch = given_checkpoints(copy, json.loads((copy / "run.json").read_text()))
    assert [by_epoch[e]["path"] for e in (1, 2)] == [str(copy / "epoch-01"), str(copy / "epoch-02")]


def test_a_damaged_copy_is_refused_not_the_original_scored(workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(workspace)
    copy = _copy(workspace, tmp_path)
    weights = copy / "epoch-02" / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DataError, match="do not match the hash") as refused:
        _evaluate(copy)  # scoring would need test items and a plan: it stops before any
    assert refused.value.path == str(weights)


def test_a_truncated_checkpoint_under_a_recomputed_hash_is_named_before_scoring(workspace, tmp_path):
    copy = _copy(workspace, tmp_path)
    weights = copy / "epoch-01" / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-64])
    record = json.loads((copy / "epoch-01" / CHECKPOINT_RECORD).read_text())
    record["weights_sha256"] = sha256_file(weights)
    (copy / "epoch-01" / CHECKPOINT_RECORD).write_text(json.dumps(record))
    with pytest.raises(DataError, match="truncated safetensors file") as refused:
        _evaluate(copy)
    assert refused.value.path == str(weights)


def test_a_recorded_path_of_another_folder_is_an_error_naming_both(workspace, tmp_path):
    elsewhere = tmp_path / "models/sft/b"
    shutil.copytree(workspace / "models/sft/a", elsewhere)  # run.json still records models/sft/a
    with pytest.raises(
        DataError, match=r"records checkpoint models/sft/a/epoch-01, which is not .*sft/b/epoch-01"
    ):
        _evaluate(elsewhere)


class _Reached(Exception):
    """Raised by the test's stand-in for test scoring, carrying the model it was given."""


@pytest.mark.parametrize("best", [1, 2])
def test_the_best_checkpoint_is_loaded_again_only_when_it_was_not_the_last_one_scored(
    workspace, monkeypatch, best
):
    import doit_study.evaluation.setting as setting

    monkeypatch.chdir(workspace)
    loads = []

    def load(folder, *args):
        loads.append(folder.name)
        return (folder.name, len(loads)), "tokenizer"

    def score(model, tokenizer, valid, config, label):
        return [], 1.0 if label.endswith(f"epoch {best}") else 0.0  # the summary stands for its score

    def reached(model, *args):
        raise _Reached(model)

    monkeypatch.setattr(setting, "load_for_scoring", load)
    monkeypatch.setattr(setting, "score_on_valid", score)
    monkeypatch.setattr(setting, "in_domain_mean", lambda summary: summary)
    monkeypatch.setattr(setting, "score_test_and_benchmarks", reached)
    with pytest.raises(_Reached) as test_scored:
        _evaluate(workspace / "models/sft/a")
    assert loads == ["epoch-01", "epoch-02"] + (["epoch-01"] if best == 1 else [])
    assert test_scored.value.args[0] == (f"epoch-0{best}", len(loads))  # the best's, loaded last
