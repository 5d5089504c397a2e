"""train.keep_checkpoints: best: selection on valid as each epoch is written, only the best kept,
the same numbers as scoring every checkpoint afterwards, and safe to kill and resume."""

import json

import pytest
import torch

from doit_study.core.files import DataError, sha256_file
from doit_study.core.schema import AnswerKind
from doit_study.evaluation.item_scoring import ScoringConfig
from doit_study.evaluation.selection import (
    KeepBest,
    Selection,
    load_for_scoring,
    recorded_selection,
    score_on_valid,
    select_best_epoch,
)
from doit_study.evaluation.setting_metrics import in_domain_mean
from doit_study.modeling.checkpoints import SELECTION_RECORD, checkpoint_sha256, epoch_dir, load_checkpoint
from doit_study.modeling.folders import WEIGHTS
from doit_study.training.loop import train
from tests.helpers import PAIRS, make, smoke_group, tiny_llama
from tests.training.test_loop import Killed, _config, _examples, kill_in_epoch

EPOCHS = 4
PARAMS = smoke_group("evaluate", min_epoch=2, nll_token_budget=256)


@pytest.fixture(scope="module")
def valid():
    """Distractor items (scored by perplexity, so the score moves between epochs) and a fill item."""
    items = [
        make(q, a, "math", AnswerKind.open, fmt=1, choices=[a, PAIRS[(i + 1) % 12][1], a.replace("等于", "")])
        for i, (q, a) in enumerate(PAIRS[:8])
    ]
    return [*items, make("第一题：一加二等于几？", "三", "chinese", AnswerKind.fill)]


def _kept(out):
    return sorted(int(p.name[6:]) for p in out.glob("epoch-*"))


def _train(tokenizer, out, keeper, on_step=None, after_epoch=None):
    def on_epoch(epoch, folder, loss):
        keeper.add(epoch, folder, checkpoint_sha256(folder), loss)
        if after_epoch:
            after_epoch()

    train(
        tiny_llama(tokenizer, seed=0),
        tokenizer,
        _examples(tokenizer),
        _config(epochs=EPOCHS),
        out,
        fingerprint="run",
        on_step=on_step,
        on_epoch=on_epoch,
    )
    return keeper.finish()


def _selection(params):
    return Selection.from_params(params, ScoringConfig.from_params(params))


def selection_spec(params, valid):
    return _selection(params).spec(valid)


def _keeper(out, valid, params=PARAMS, fingerprint="run"):
    return KeepBest(_selection(params), valid, None, "test").keeper(out, fingerprint)


def test_only_the_best_is_kept_with_the_scores_of_keeping_all(tokenizer, valid, tmp_path):
    every = tmp_path / "all"
    model = tiny_llama(tokenizer, seed=0)
    train(model, tokenizer, _examples(tokenizer), _config(epochs=EPOCHS), every)
    config = _keeper(tmp_path / "unused", valid).config
    scored = {
        e: score_on_valid(*load_for_scoring(epoch_dir(every, e), None, config), valid, config, "all")
        for e in range(1, 5)
    }
    scores = {epoch: in_domain_mean(summary) for epoch, (_, summary) in scored.items()}
    expected_best = select_best_epoch(scores, PARAMS.min_epoch)

    best = _train(tokenizer, tmp_path / "best", _keeper(tmp_path / "best", valid))
    assert best == expected_best
    assert _kept(tmp_path / "best") == [best]
    weights = epoch_dir(tmp_path / "best", best) / WEIGHTS
    assert sha256_file(weights) == sha256_file(epoch_dir(every, best) / WEIGHTS)
    recorded = recorded_selection(tmp_path / "best", selection_spec(PARAMS, valid))
    assert sorted(recorded) == list(range(PARAMS.min_epoch, EPOCHS + 1))  # earlier ones cannot be chosen
    for epoch in recorded:
        assert recorded[epoch] == scored[epoch]  # predictions read back equal the scored ones


def test_epochs_that_can_no_longer_win_are_removed_during_training(tokenizer, valid, tmp_path):
    out = tmp_path / "run"
    keeper, seen = _keeper(out, valid), []
    best = _train(tokenizer, out, keeper, after_epoch=lambda: seen.append(_kept(out)))
    assert seen[0] == [1]  # the newest is kept to resume from
    assert seen[1] == [2]  # epoch 1 is before min_epoch: it can never be selected
    scores = keeper.scores
    for epoch, kept in enumerate(seen[2:], start=3):
        best_so_far = select_best_epoch({e: scores[e] for e in range(2, epoch + 1)}, 2)
        assert kept == sorted({epoch, best_so_far})
    assert _kept(out) == [best]


def test_a_killed_run_resumes_to_the_same_selection(tokenizer, valid, tmp_path):
    _train(tokenizer, tmp_path / "full", _keeper(tmp_path / "full", valid))

    with pytest.raises(Killed):
        _train(tokenizer, tmp_path / "killed", _keeper(tmp_path / "killed", valid), kill_in_epoch(3))
    assert 2 in _kept(tmp_path / "killed")  # the newest complete epoch survives the kill
    (tmp_path / "killed" / ".epoch-01.pruned").mkdir()  # as if killed while removing epoch 1
    keeper = _keeper(tmp_path / "killed", valid)
    assert sorted(keeper.scores) == [2] and not keeper.complete()  # epoch 1 is before min_epoch
    best = _train(tokenizer, tmp_path / "killed", keeper)

    full, killed = (json.loads((tmp_path / d / SELECTION_RECORD).read_text()) for d in ("full", "killed"))
    assert killed == full
    assert sha256_file(epoch_dir(tmp_path / "killed", best) / WEIGHTS) == sha256_file(
        epoch_dir(tmp_path / "full", best) / WEIGHTS
    )
    assert _keeper(tmp_path / "killed", valid).complete()  # a rerun knows it has nothing to do
    assert not (tmp_path / "killed" / ".epoch-01.pruned").exists()


def test_a_selection_made_under_other_params_is_refused(tokenizer, valid, tmp_path):
    _train(tokenizer, tmp_path, _keeper(tmp_path, valid))
    other = selection_spec(smoke_group("evaluate", min_epoch=3, nll_token_budget=256), valid)
    with pytest.raises(DataError, match=r"evaluate\.min_epoch"):
        recorded_selection(tmp_path, other)
    fewer = selection_spec(PARAMS, valid[:-1])
    with pytest.raises(DataError, match="valid items"):
        recorded_selection(tmp_path, fewer)
    # another fingerprint (other params, data or base model): the record is not reused
    assert _keeper(tmp_path, valid, fingerprint="another run").scores == {}


def test_scoring_in_bfloat16_or_spread_by_accelerate(tokenizer, valid, tmp_path):
    # the paper profile scores in bfloat16 with device_map: auto (a 33b model is 132 GB in float32)
    train(tiny_llama(tokenizer, seed=0), tokenizer, _examples(tokenizer), _config(epochs=1), tmp_path)
    folder = epoch_dir(tmp_path, 1)
    config = _keeper(tmp_path / "unused", valid).config
    half = smoke_group("evaluate", min_epoch=1, nll_token_budget=256, dtype="bfloat16")
    bf16_config = _keeper(tmp_path / "unused", valid, half).config
    assert (config.dtype, bf16_config.dtype) == ("float32", "bfloat16")
    assert selection_spec(half, valid) != selection_spec(PARAMS, valid)  # a recorded selection is per dtype

    plain, _ = score_on_valid(*load_for_scoring(folder, None, config), valid, config, "float32")
    spread, _ = score_on_valid(*load_for_scoring(folder, None, config, "auto"), valid, config, "auto")
    assert spread == plain  # placement alone changes no number
    model = load_checkpoint(folder, None, "bfloat16", "auto")
    assert model.dtype == torch.bfloat16 and model.device.type == "cpu" and not model.training
    halved, _ = score_on_valid(*load_for_scoring(folder, None, bf16_config), valid, bf16_config, "bfloat16")
    for exact, rounded in zip(plain, halved, strict=True):
        if exact.ppl:  # bfloat16 keeps 8 bits of mantissa: perplexities move, but only a little
            assert rounded.ppl == pytest.approx(exact.ppl, rel=0.05)
            assert rounded.ppl != exact.ppl
