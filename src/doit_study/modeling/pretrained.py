"""A real causal LM adapted to the chat protocol: the speaker, end-of-turn and pad tokens added,
embeddings resized, saved as a safetensors folder that fine-tuning loads with `from_pretrained`.

A local folder is checked before anything is loaded: pickled weights (`pytorch_model.bin`) can run
any code when unpickled, and `auto_map` in its config makes transformers import code shipped in the
folder; both are refused with the folder and the reason (custom code only under `trust_remote_code:
true`). The project's own model folder never carries `auto_map` or code: every later stage loads it
with transformers' own architecture."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError, read_json, write_json
from doit_study.modeling.chat import add_chat_tokens
from doit_study.modeling.folders import check_safetensors, parameter_count

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
CONFIGS = ("config.json", "tokenizer_config.json")  # where transformers looks for auto_map


def check_source_folder(folder: Path, trust_remote_code: bool) -> None:
    """Refuse a model folder with only pickled weights, a damaged safetensors file, or custom code
    (`auto_map`) that was not explicitly trusted."""
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        reason = "no safetensors weights"
        if pickles:
            found = ", ".join(pickles)
            reason = (
                f"only pickle weights ({found}): unpickling can run any code; convert them to safetensors"
            )
        raise DataError(folder, reason)
    for file in weights:
        check_safetensors(file)
    for name in CONFIGS:
        if (folder / name).is_file() and "auto_map" in read_json(folder / name) and not trust_remote_code:
            message = (
                "the model ships its own code, which loading it would run; the project uses transformers' "
                "own architectures (set trust_remote_code: true only for a model you trust)"
            )
            raise DataError(folder / name, message, None, "auto_map")


def drop_custom_code(out_dir: Path) -> None:
    """Remove `auto_map` and copied code files from a saved folder, which must then name one of
    transformers' own architectures: later stages load it without running any shipped code."""
    from transformers import CONFIG_MAPPING

    for name in CONFIGS:
        if (out_dir / name).is_file():
            config = read_json(out_dir / name)
            if config.pop("auto_map", None) is not None:
                write_json(out_dir / name, config)
    for code in out_dir.glob("*.py"):
        code.unlink()
    model_type = read_json(out_dir / "config.json").get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise DataError(
            out_dir / "config.json",
            f"{model_type!r} is not an architecture of transformers",
            None,
            "model_type",
        )


def adapt_pretrained(
    name_or_path: str, out_dir: Path, *, trust_remote_code: bool = False, local_files_only: bool = True
) -> dict:
    """A real causal LM with the chat tokens added and embeddings resized, saved as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if local_files_only and not Path(name_or_path).is_dir():
        raise DataError(name_or_path, "no such model folder (set local_files_only: false to use a hub id)")
    if Path(name_or_path).is_dir():
        check_source_folder(Path(name_or_path), trust_remote_code)
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
    drop_custom_code(out_dir)
    return {
        "parameters": parameter_count(model),
        "added_tokens": added,
        "kind": "pretrained",
        "source": name_or_path,
    }
