"""A real causal LM adapted to the chat protocol: the speaker, end-of-turn and pad tokens added,
embeddings resized, saved as a safetensors folder that fine-tuning loads with `from_pretrained`."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError
from doit_study.modeling.chat import add_chat_tokens
from doit_study.modeling.folders import parameter_count


def adapt_pretrained(
    name_or_path: str, out_dir: Path, *, trust_remote_code: bool = False, local_files_only: bool = True
) -> dict:
    """A real causal LM with the chat tokens added and embeddings resized, saved as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if local_files_only and not Path(name_or_path).is_dir():
        raise DataError(name_or_path, "no such model folder (set local_files_only: false to use a hub id)")
    tokenizer = AutoTokenizer.from_pretrained(
        name_or_path, trust_remote_code=trust_remote_code, local_files_only=local_files_only
    )
    model = AutoModelForCausalLM.from_pretrained(
        name_or_path,
        use_safetensors=True,
        trust_remote_code=trust_remote_code,
        local_files_only=local_files_only,
    )
    added = add_chat_tokens(tokenizer)
    if added:
        model.resize_token_embeddings(len(tokenizer))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return {
        "parameters": parameter_count(model),
        "added_tokens": added,
        "kind": "pretrained",
        "source": name_or_path,
    }
