"""A real causal LM adapted to the chat protocol: the speaker, end-of-turn and pad tokens added,
embeddings resized, saved as a safetensors folder that fine-tuning loads with `from_pretrained`.

A local folder is checked before anything is loaded: pickled weights (`pytorch_model.bin`) can run
any code when unpickled, and `auto_map` in its config makes transformers import code shipped in the
folder; both are refused with the folder and the reason (custom code only under `trust_remote_code:
true`). The project's own model folder never carries `auto_map` or code: every later stage loads it
with transformers' own architecture."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError, read_json, sha256_file, write_json
from doit_study.modeling.chat import (
    ASSISTANT_TOKEN,
    END_OF_TURN,
    USER_TOKEN,
    add_chat_tokens,
    chat_ids,
    chat_template,
    encode_prompt,
    generation_stops,
)
from doit_study.modeling.folders import check_safetensors, folder_hash, parameter_count

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
    _check_architecture(folder / "config.json")


def _check_architecture(config_path: Path) -> None:
    """Before anything is loaded: later stages load the project's folder with transformers' own
    class, so a model whose architecture exists only as shipped code cannot be used, trusted or not
    (trust_remote_code admits a folder that keeps `auto_map` for an architecture transformers has)."""
    from transformers import CONFIG_MAPPING

    model_type = read_json(config_path).get("model_type") if config_path.is_file() else None
    if model_type not in CONFIG_MAPPING:
        message = f"{model_type!r} is not an architecture of transformers (its code would have to be run)"
        raise DataError(config_path, message, None, "model_type")


def drop_custom_code(out_dir: Path) -> None:
    """Remove `auto_map` and copied code files from a saved folder, which must then name one of
    transformers' own architectures: later stages load it without running any shipped code."""
    for name in CONFIGS:
        if (out_dir / name).is_file():
            config = read_json(out_dir / name)
            if config.pop("auto_map", None) is not None:
                write_json(out_dir / name, config)
    for code in out_dir.glob("*.py"):
        code.unlink()
    _check_architecture(out_dir / "config.json")


def gguf_location(spec: str) -> tuple[Path, str]:
    """(folder, file name) of a GGUF file given as a path or as `package:resource`, a file shipped
    inside an installed package (found without importing the package, whose code may need more)."""
    import importlib.util

    package, colon, resource = spec.partition(":")
    if colon and "/" not in package and not Path(spec).is_file():
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise DataError(spec, f"no installed package {package!r} holds the GGUF file", None, "gguf")
        path = Path(next(iter(found.submodule_search_locations))) / resource
    else:
        path = Path(spec)
    if not path.is_file():
        raise DataError(path, "no such GGUF file", None, "gguf")
    return path.parent, path.name


def load_gguf(spec: str):
    """(tokenizer, model) from a GGUF file, the weights dequantised to float32 in a model built from
    the config alone: transformers keeps a GGUF's quantisation settings, which `save_pretrained`
    refuses, though the loaded weights are plain tensors."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = gguf_location(spec)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.for_model(
        **{k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"}
    )
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    return tokenizer, model


def initialise_chat_rows(model, tokenizer, new_ids: set[int]) -> dict[str, str]:
    """Rows for the chat tokens just added (`new_ids`) that a model can use within a few steps,
    where `resize_token_embeddings` draws them around the mean row and `<eot>` starts about 15 nats
    below the tokens the model already predicts: `<eot>` copies the end-of-sequence row (a model
    already ends texts with it; the mean rule where there is none), `<user>` and `<assistant>` the
    mean row of their spelled-out words. Input and output rows alike (one matrix when tied). Rows of
    tokens the tokenizer already had are kept. Returns the rule each token got, for the record."""
    import torch

    ids = chat_ids(tokenizer)
    plan = [  # (token, its id, the rows it starts from, the rule's name)
        (token, token_id, tokenizer.encode(word, add_special_tokens=False), f"mean of {word!r}")
        for token, token_id, word in (
            (USER_TOKEN, ids.user, "user"),
            (ASSISTANT_TOKEN, ids.assistant, "assistant"),
        )
    ]
    if tokenizer.eos_token_id is not None:
        plan.append((END_OF_TURN, ids.end_of_turn, [tokenizer.eos_token_id], tokenizer.eos_token))
    plan = [step for step in plan if step[1] in new_ids]
    matrices = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not matrices[0]:
        matrices.append(output.weight)
    with torch.no_grad():
        for matrix in matrices:
            for _, target, rows, _ in plan:
                matrix[target] = matrix[rows].mean(dim=0)
    return {token: rule for token, _, _, rule in plan}


def template_matches(tokenizer) -> bool:
    """Whether the saved chat template, rendered and tokenised as servers do, gives the stages' own
    prompt on a probe dialogue. Not for every tokenizer: one that marks a word start only at the
    start of a string (SentencePiece's Metaspace, prepend_scheme "first", as transformers 5 sets up
    LLaMA's) splits each turn's first word differently when the turns are one string."""
    from doit_study.core.schema import Message

    probe = [
        Message(role="user", content="what is 2 + 2? 二加二等于几？"),
        Message(role="assistant", content="4"),
    ]
    rendered = tokenizer.apply_chat_template(
        [m.model_dump() for m in probe[:-1]], add_generation_prompt=True, tokenize=True, return_dict=True
    )
    return rendered["input_ids"] == encode_prompt(tokenizer, probe)


def adapt_pretrained(spec, out_dir: Path) -> dict:
    """A real causal LM (a folder, a hub id or a GGUF file) with the chat tokens added and their rows
    initialised, saved as safetensors with the project's chat template and a generation config that
    stops at `<eot>`, so any standard server prompts it as the stages do."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if spec.gguf:
        tokenizer, model = load_gguf(spec.gguf)
    else:
        if spec.local_files_only and not Path(spec.path).is_dir():
            raise DataError(spec.path, "no such model folder (set local_files_only: false to use a hub id)")
        if Path(spec.path).is_dir():
            check_source_folder(Path(spec.path), spec.trust_remote_code)
        options = {"trust_remote_code": spec.trust_remote_code, "local_files_only": spec.local_files_only}
        tokenizer = AutoTokenizer.from_pretrained(spec.path, **options)
        model = AutoModelForCausalLM.from_pretrained(spec.path, use_safetensors=True, **options)
    before = len(tokenizer)
    added = add_chat_tokens(tokenizer)
    rules = {}
    if added:
        model.resize_token_embeddings(len(tokenizer))
        rules = initialise_chat_rows(model, tokenizer, set(range(before, len(tokenizer))))
    tokenizer.chat_template = chat_template(tokenizer)
    ids = chat_ids(tokenizer)
    model.generation_config.eos_token_id = generation_stops(tokenizer)
    model.generation_config.pad_token_id = ids.pad
    exact = template_matches(tokenizer)
    if not exact:
        print(
            f"foundation: {spec.gguf or spec.path}'s tokenizer splits a turn's first word differently when "
            "a server renders the chat template as one string: served prompts differ slightly from the "
            "stages' (chat_template_exact: false in foundation.json)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    drop_custom_code(out_dir)
    return {
        "parameters": parameter_count(model),
        "added_tokens": added,
        "chat_token_rows": rules,
        "prefix_tokens": tokenizer.convert_ids_to_tokens(list(ids.prefix)),
        "chat_template_exact": exact,
        "kind": "pretrained",
        "source": spec.gguf or spec.path,
        "source_package": _package_version(spec.gguf),
        "source_sha256": _source_hash(spec),
    }


def _package_version(gguf: str | None) -> str | None:
    """`<distribution>==<version>` of the package a `package:file` GGUF comes from (None otherwise)."""
    from importlib import metadata

    package, colon, _ = (gguf or "").partition(":")
    if not colon or Path(gguf).is_file():
        return None
    names = metadata.packages_distributions().get(package, [package])
    return f"{names[0]}=={metadata.version(names[0])}"


def _source_hash(spec) -> str | None:
    """What the model was converted from, content-addressed (None for a hub id, which has no files here)."""
    if spec.gguf:
        folder, name = gguf_location(spec.gguf)
        return sha256_file(folder / name)  # a package's file: its version is in the record's source
    return folder_hash(spec.path) if Path(spec.path).is_dir() else None
