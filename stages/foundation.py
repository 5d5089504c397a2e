"""Stage foundation@<size>: the foundation model of one size in models/base/<size>/, either a tiny
LLaMA pretrained on the raw corpus under a token budget, or a real causal LM with the chat tokens
added. Writes foundation.json beside the weights (parameters, tokens, hashes)."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError, atomic_dir, read_split_items, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.sources.corpus import corpus_texts
from doit_study.items.sources.manifest import read_manifest
from doit_study.modeling.folders import TinyLlama, folder_hash, load_tokenizer
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
        "out": "models/base/<size>",
    }
    args = stage_args(__doc__, argv, names={"size": "a key of foundation.sizes"}, paths=paths)
    params = read_group(args.params, FoundationParams)
    if args.size not in params.sizes:
        raise DataError(
            args.params,
            f"unknown size {args.size!r}; sizes are {', '.join(params.sizes)}",
            None,
            "foundation.sizes",
        )
    spec = params.sizes[args.size]
    out = args.out
    with atomic_dir(out) as tmp:
        if isinstance(spec, PretrainedModel):
            record = adapt_pretrained(
                spec.path,
                Path(tmp),
                trust_remote_code=spec.trust_remote_code,
                local_files_only=spec.local_files_only,
            )
        else:
            tokenizer = load_tokenizer(args.tokenizer)
            texts = corpus_texts(
                args.raw, read_manifest(args.raw), read_split_items(args.annotated, ("valid", "test"))
            )
            blocks = pack_blocks(tokenizer, texts, params.seq_len, params.token_budget)
            config = config_from(params.optim, params.seed)
            shape = TinyLlama(
                spec.hidden_size,
                spec.layers,
                spec.heads,
                spec.intermediate_size,
                max_position_embeddings=params.seq_len * 4,
            )
            record = pretrain_tiny(
                shape, tokenizer, blocks, config, out.parent / f".pretrain-{args.size}", Path(tmp)
            )
            record["tokenizer_sha256"] = folder_hash(args.tokenizer)
        record |= {"size": args.size, "weights_sha256": folder_hash(tmp)}
        write_json(Path(tmp) / "foundation.json", record)
    print(f"foundation@{args.size}: {record['parameters']:,} parameters written to {out}")


if __name__ == "__main__":
    run_stage(main)
