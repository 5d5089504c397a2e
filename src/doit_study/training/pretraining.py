"""Pretraining the tiny foundation models offline: the raw corpus cut into blocks, a tiny LLaMA
trained on them and saved as an ordinary Hugging Face safetensors folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from doit_study.modeling.folders import TinyLlama, new_tiny_llama, parameter_count
from doit_study.training.loop import Example, TrainConfig, train


def pack_blocks(tokenizer, texts: Iterable[str], seq_len: int, max_tokens: int) -> list[Example]:
    """Documents joined by end-of-sequence tokens and cut into full blocks of seq_len tokens, up to
    max_tokens in all (the token budget). Every position is trained."""
    stream: list[int] = []
    for text in texts:
        stream += [*tokenizer.encode(text, add_special_tokens=False), tokenizer.eos_token_id]
        if len(stream) >= max_tokens:
            break
    stream = stream[:max_tokens]
    blocks = [stream[i : i + seq_len] for i in range(0, len(stream) - seq_len + 1, seq_len)]
    return [(block, list(block)) for block in blocks]


def pretrain_tiny(
    shape: TinyLlama,
    tokenizer,
    blocks: list[Example],
    config: TrainConfig,
    work: Path,
    out_dir: Path,
    on_step=None,
) -> dict:
    """Pretrain a tiny LLaMA on blocks and save it (weights, config, tokenizer) into out_dir. Epoch
    checkpoints go to `work`, outside the output, so a killed run resumes; it is removed at the end."""
    model = new_tiny_llama(shape, tokenizer, seed=config.seed)
    losses: list[float] = []
    last = train(
        model,
        tokenizer,
        blocks,
        config,
        work,
        on_epoch=lambda epoch, folder, loss: losses.append(loss),
        on_step=on_step,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ):
        if (last / name).exists():
            shutil.copy2(last / name, out_dir / name)
    shutil.rmtree(work)
    return {
        "parameters": parameter_count(model),
        "tokens": sum(len(ids) for ids, _ in blocks) * config.epochs,
        "final_loss": losses[-1] if losses else None,
        "kind": "tiny-llama",
    }
