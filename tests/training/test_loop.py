import pytest
import torch

from doit_study.core.files import DataError, sha256_file
from doit_study.core.schema import Message
from doit_study.modeling.chat import IGNORE_INDEX, encode_dialogue
from doit_study.modeling.checkpoints import last_complete_epoch
from doit_study.modeling.folders import WEIGHTS
from doit_study.training.loop import (
    TrainConfig,
    check_packing,
    collate,
    collate_packed,
    length_grouped_batches,
    packed_rows,
    token_loss_sum,
    train,
)
from tests.helpers import PAIRS, tiny_llama


def _examples(tokenizer):
    return [
        (e.input_ids, e.labels)
        for e in (
            encode_dialogue(
                tokenizer, [Message(role="user", content=q), Message(role="assistant", content=a)], 64
            )
            for q, a in PAIRS
        )
    ]


class Killed(Exception):
    """A run stopped in the middle of an epoch, as a kill would stop it."""


def kill_in_epoch(epoch: int):
    """An `on_step` callback that stops the run at the first step of `epoch`."""

    def on_step(log):
        if log.epoch == epoch:
            raise Killed

    return on_step


def _config(**overrides):
    return TrainConfig(
        **(
            {"epochs": 3, "peak_lr": 3e-3, "end_lr": 3e-4, "global_batch": 4, "micro_batch": 2, "seed": 0}
            | {"length_group": 1}
            | overrides
        )
    )


def _run(tokenizer, out, **overrides):
    losses = []
    model = tiny_llama(tokenizer, seed=0)
    last = train(
        model,
        tokenizer,
        _examples(tokenizer),
        _config(**overrides),
        out,
        on_step=lambda log: losses.append(log.loss),
    )
    return last, losses


def test_training_learns_and_checkpoints_every_epoch(tokenizer, tmp_path):
    last, losses = _run(tokenizer, tmp_path, epochs=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"epoch-{e:02d}" for e in range(1, 7)]
    assert (last / WEIGHTS).is_file() and (last / "tokenizer.json").is_file()
    assert [p.parent.name for p in tmp_path.glob("epoch-*/training_state.pt")] == ["epoch-06"]
    assert sum(losses[-3:]) < sum(losses[:3])


def test_same_params_give_bit_identical_checkpoints(tokenizer, tmp_path):
    first, losses_a = _run(tokenizer, tmp_path / "a")
    second, losses_b = _run(tokenizer, tmp_path / "b")
    assert losses_a == losses_b
    assert sha256_file(first / WEIGHTS) == sha256_file(second / WEIGHTS)


def test_killed_run_resumes_to_the_same_weights(tokenizer, tmp_path):
    uninterrupted, _ = _run(tokenizer, tmp_path / "full")

    model = tiny_llama(tokenizer, seed=0)
    with pytest.raises(Killed):
        train(
            model, tokenizer, _examples(tokenizer), _config(), tmp_path / "killed", on_step=kill_in_epoch(2)
        )
    assert last_complete_epoch(tmp_path / "killed") == 1
    resumed, losses = _run(tokenizer, tmp_path / "killed")
    assert sha256_file(resumed / WEIGHTS) == sha256_file(uninterrupted / WEIGHTS)
    assert len(losses) == 2 * 3  # only epochs 2 and 3 ran again (3 steps each)
    reported = []  # a run resumed with every epoch done still reports each checkpoint it ends with
    train(
        tiny_llama(tokenizer, seed=0),
        tokenizer,
        _examples(tokenizer),
        _config(),
        tmp_path / "killed",
        on_epoch=lambda epoch, folder, loss: reported.append((epoch, folder.name)),
    )
    assert reported == [(1, "epoch-01"), (2, "epoch-02"), (3, "epoch-03")]


def test_accumulation_matches_one_big_batch(tokenizer, tmp_path):
    from safetensors.torch import load_file

    # one step over all twelve examples: as four accumulated micro-batches, and as one batch
    accumulated, _ = _run(tokenizer, tmp_path / "acc", epochs=1, global_batch=12, micro_batch=3)
    single, _ = _run(tokenizer, tmp_path / "one", epochs=1, global_batch=12, micro_batch=12)
    a, b = load_file(accumulated / WEIGHTS), load_file(single / WEIGHTS)
    start = tiny_llama(tokenizer, seed=0).state_dict()
    step = max((b[name] - start[name]).abs().max().item() for name in b)  # AdamW's first step: ~lr
    apart = max((a[name] - b[name]).abs().max().item() for name in a)
    # the same gradient summed in another order: float32 rounding only, under 1% of the step
    assert step > 1e-4 and apart < 0.01 * step


def test_packed_rows_hold_every_example_once_within_the_row_length():
    lengths = [((i * 37) % 200) + 5 for i in range(64)] + [300]  # the last is longer than a row
    rows = packed_rows(lengths, range(65), 256)
    assert sorted(i for row in rows for i in row) == list(range(65))
    assert [64] in rows and all(sum(lengths[i] for i in row) <= 256 for row in rows if row != [64])
    assert len(rows) <= 1 + -(-sum(lengths[:64]) // 256) + 2  # first fit decreasing: close to the bound
    assert packed_rows(lengths, range(65), 256) == rows  # deterministic


def _losses_by_token(model, batch) -> torch.Tensor:
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2).float(), targets.clamp(min=0), reduction="none"
    )
    return torch.where(targets != IGNORE_INDEX, losses, torch.zeros_like(losses))


def test_a_packed_row_gives_each_example_the_loss_it_has_alone(tiny):
    model, tokenizer = tiny
    examples = _examples(tokenizer)
    rows = packed_rows([len(ids) for ids, _ in examples], range(len(examples)), 96)
    assert max(map(len, rows)) > 1  # rows that really hold several examples
    packed = collate_packed([[examples[i] for i in row] for row in rows], tokenizer.pad_token_id)
    assert "attention_mask" not in packed
    with torch.no_grad():
        by_token = _losses_by_token(model, packed)
        alone = {
            i: _losses_by_token(model, collate([examples[i]], tokenizer.pad_token_id)).sum()
            for i in range(12)
        }
    for r, row in enumerate(rows):
        start = 0
        for i in row:
            end = start + len(examples[i][0])
            # the example's own targets only (its first token is no target: nothing crosses over)
            assert by_token[r, start : end - 1].sum() == pytest.approx(float(alone[i]), rel=1e-5)
            start = end
    with torch.no_grad():  # and the summed loss the training step uses, against the padded batch
        padded = token_loss_sum(model, collate(examples, tokenizer.pad_token_id))
        flat = token_loss_sum(model, packed)
    assert flat[1] == padded[1] and float(flat[0]) == pytest.approx(float(padded[0]), rel=1e-5)


def test_packing_under_flash_attention_is_refused_unless_one_row_per_forward(tiny):
    model, _ = tiny
    packed = _config(pack_length=64)
    check_packing(model, packed)  # sdpa: any number of rows
    flash = type("Model", (), {"config": type("Config", (), {"_attn_implementation": "flash_attention_2"})})
    with pytest.raises(ValueError, match="need micro_batch 1"):
        check_packing(flash, packed)
    check_packing(flash, _config(pack_length=64, micro_batch=1))
    check_packing(flash, _config())  # padded batches carry their mask


def test_packed_training_takes_the_steps_of_padded_training(tokenizer, tmp_path):
    from safetensors.torch import load_file

    packed, packed_losses = _run(tokenizer, tmp_path / "packed", epochs=2, pack_length=64)
    padded, padded_losses = _run(tokenizer, tmp_path / "padded", epochs=2)
    assert packed_losses == pytest.approx(padded_losses, rel=1e-4)
    a, b = load_file(packed / WEIGHTS), load_file(padded / WEIGHTS)
    start = tiny_llama(tokenizer, seed=0).state_dict()
    moved = max((b[name] - start[name]).abs().max().item() for name in b)
    apart = max((a[name] - b[name]).abs().max().item() for name in a)
    assert moved > 1e-3 and apart < 0.01 * moved  # the same examples per step: rounding only


def test_a_tampered_checkpoint_is_refused_on_resume(tokenizer, tmp_path):
    _run(tokenizer, tmp_path, epochs=1)
    weights = tmp_path / "epoch-01" / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match="do not match the hash"):
        _run(tokenizer, tmp_path, epochs=2)


def test_length_grouping_keeps_padding_low_and_covers_every_example():
    lengths = [((i * 37) % 200) + 5 for i in range(1000)]
    batches = length_grouped_batches(lengths, micro_batch=8, length_group=50, seed=0, epoch=1)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert 1 - sum(lengths) / padded < 0.10
    assert batches != length_grouped_batches(lengths, 8, 50, seed=0, epoch=2)


def test_replicate_seeds_train_on_different_batches_not_the_same_batches_reordered():
    lengths = [((i * 37) % 200) + 5 for i in range(40)]  # 40 items: n4 over ten abilities

    def compositions(seed: int, group: int) -> set:
        return {frozenset(b) for b in length_grouped_batches(lengths, 16, group, seed=seed, epoch=1)}

    # one length group holding the whole subset: every seed gets the same batches
    assert compositions(0, 50) == compositions(1, 50)
    assert compositions(0, 1) != compositions(1, 1)
    assert compositions(0, 1).isdisjoint(compositions(1, 1))


def test_lora_trains_adapters_only_and_resumes(tokenizer, tmp_path):
    from safetensors.torch import load_file

    from doit_study.modeling.checkpoints import ADAPTER_WEIGHTS
    from doit_study.modeling.folders import with_lora

    def lora_model():
        return with_lora(tiny_llama(tokenizer, seed=0), 4, 8, 0.0, ["q_proj", "v_proj"])

    model = lora_model()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    full = train(model, tokenizer, _examples(tokenizer), _config(epochs=2), tmp_path / "full")
    assert (full / ADAPTER_WEIGHTS).is_file() and not (full / WEIGHTS).exists()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)

    with pytest.raises(Killed):
        train(
            lora_model(),
            tokenizer,
            _examples(tokenizer),
            _config(epochs=2),
            tmp_path / "killed",
            on_step=kill_in_epoch(2),
        )
    resumed = train(lora_model(), tokenizer, _examples(tokenizer), _config(epochs=2), tmp_path / "killed")
    a, b = load_file(full / ADAPTER_WEIGHTS), load_file(resumed / ADAPTER_WEIGHTS)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
