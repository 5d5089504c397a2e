"""Stage foundation@<model>: one foundation model in models/base/<model>/, of its size
(`foundation.models.<model>.size`): a tiny LLaMA pretrained on the raw corpus under a token budget
from its own seed, or a real causal LM with the chat tokens added. Writes foundation.json beside the
weights (model, size, seed, parameters, tokens, hashes)."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError, atomic_dir, read_split_items, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.sources.corpus import corpus_texts
from doit_study.items.sources.manifest import read_manifest
from doit_study.modeling.folders import FOUNDATION_RECORD, TinyLlama, folder_hash, load_tokenizer
from doit_study.modeling.pretrained import adapt_pretrained
from doit_study.params.base import read_group
from doit_study.params.foundation import FoundationParams, PretrainedModel
from doit_study.training.loop import config_from
from doit_study.training.pretraining import pack_blocks, pretrain_tiny


def main(argv: list[str] | None = None) -> None:
    paths = {
        "raw": "snapshot directory (data/raw): the tiny models' corpus",
        "annotated": "data/annotated (its valid and test material is left out of the corpus)",
        "tokenizer": "models/tokenizer",
        "out": "models/base/<model>",
    }
    model_name = {"model": "a key of foundation.models"}
    args = stage_args(__doc__, argv, names=model_name, paths=paths, outs=("out",))
    params = read_group(args.params, FoundationParams)
    if args.model not in params.models:
        message = f"unknown model {args.model!r}; models are {', '.join(params.models)}"
        raise DataError(args.params, message, None, "foundation.models")
    model = params.models[args.model]
    spec = params.sizes[model.size]
    out = args.out
    with atomic_dir(out) as tmp:
        if isinstance(spec, PretrainedModel):
            record = adapt_pretrained(spec, Path(tmp))
        else:
            tokenizer = load_tokenizer(args.tokenizer)
            texts = corpus_texts(
                args.raw, read_manifest(args.raw), read_split_items(args.annotated, ("valid", "test"))
            )
            blocks = pack_blocks(tokenizer, texts, params.seq_len, params.token_budget)
            config = config_from(params.optim, model.seed)
            shape = TinyLlama(
                spec.hidden_size,
                spec.layers,
                spec.heads,
                spec.intermediate_size,
                max_position_embeddings=params.seq_len * 4,
            )
            record = pretrain_tiny(
                shape, tokenizer, blocks, config, out.parent / f".pretrain-{args.model}", Path(tmp)
            )
            record["tokenizer_sha256"] = folder_hash(args.tokenizer)
        record |= {
            "model": args.model,
            "size": model.size,
            "seed": model.seed,
            "weights_sha256": folder_hash(tmp),
        }
        write_json(Path(tmp) / FOUNDATION_RECORD, record)
    print(f"foundation@{args.model}: {record['parameters']:,} parameters written to {out}")


if __name__ == "__main__":
    run_stage(main)
