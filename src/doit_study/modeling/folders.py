"""Models as Hugging Face folders: tiny LLaMA foundations built offline, real causal LMs by path,
loaded only from safetensors, and content hashes for lineage."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from doit_study.core.files import DataError

WEIGHTS = "model.safetensors"
FOUNDATION_RECORD = "foundation.json"  # what the foundation stage records beside a base model


@dataclass(frozen=True)
class TinyLlama:
    """A LLaMA-architecture shape small enough to pretrain on two cores."""

    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    max_position_embeddings: int = 512


def tiny_llama_config(shape: TinyLlama, vocab_size: int, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=True,  # the embedding dominates tiny models: tying halves it
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attention_dropout=0.0,
    )


def new_tiny_llama(shape: TinyLlama, tokenizer, seed: int):
    import torch
    from transformers import LlamaForCausalLM

    from doit_study.modeling.chat import generation_stops

    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(shape, len(tokenizer), tokenizer))
    # an assistant turn ends at the end-of-turn token: servers and `generate` stop there too
    model.generation_config.eos_token_id = generation_stops(tokenizer)
    return model


def with_lora(model, r: int, alpha: int, dropout: float, target_modules: list[str]):
    """The model wrapped with trainable low-rank adapters (peft); its own weights stay frozen."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type="CAUSAL_LM"
    )
    return get_peft_model(model, config)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load_causal_lm(
    path: os.PathLike | str,
    *,
    trust_remote_code: bool = False,
    dtype: str | None = None,
    device_map: str | None = None,
):
    """A model folder loaded from safetensors only (never pickled weights); `dtype` and
    `device_map` as `from_pretrained` takes them (None: the saved dtype, on the CPU)."""
    from transformers import AutoModelForCausalLM

    folder = _existing_folder(path)
    if not any(folder.glob("*.safetensors")):
        raise DataError(folder, "no safetensors weights in the model folder")
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors(weights)
    placement = {"dtype": dtype} if dtype else {}
    if device_map:
        placement["device_map"] = device_map
    return AutoModelForCausalLM.from_pretrained(
        folder, use_safetensors=True, trust_remote_code=trust_remote_code, **placement
    )


def check_safetensors(path: Path) -> None:
    """Refuse a safetensors file whose header is broken or whose tensors do not fill it exactly (a
    truncated copy, even one whose recorded hash was recomputed), naming the file: loading it would
    end in a library traceback. Reads the header only."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little")
        if len(head) < 8 or length > size - 8:
            raise DataError(
                path, f"broken safetensors header: its length field says {length} bytes, the file has {size}"
            )
        try:
            header = json.loads(handle.read(length))
            ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            raise DataError(path, "broken safetensors header: not a JSON table of tensors") from None
    held = size - 8 - length
    if max(ends, default=0) != held:
        raise DataError(
            path,
            f"truncated safetensors file: its tensors take {max(ends, default=0)} bytes, it holds {held}",
        )


def inference_device():
    """Where evaluation runs: the first GPU when there is one."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def placed_for_inference(model, device_map: str | None):
    """A loaded model in eval mode on the first GPU (or the CPU), unless accelerate already spread
    it over the devices (`device_map="auto"`: a model larger than one GPU)."""
    return (model if device_map else model.to(inference_device())).eval()


def load_tokenizer(path: os.PathLike | str, *, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_existing_folder(path), trust_remote_code=trust_remote_code)


def _existing_folder(path: os.PathLike | str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(folder, "no such model folder")
    return folder


def folder_hash(path: os.PathLike | str) -> str:
    """sha256 over every file of a folder (relative names and bytes, sorted): a model's identity."""
    digest = hashlib.sha256()
    root = Path(path)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
