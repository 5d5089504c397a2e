"""Stage foundation@<size>: the foundation model of one size in models/base/<size>/, either a tiny
LLaMA pretrained on the raw corpus under a token budget, or a real causal LM with the chat tokens
added. Writes foundation.json beside the weights (parameters, tokens, hashes)."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import PretrainedModel, load_group
from doit_study.foundation import adapt_pretrained, pack_blocks, pretrain_tiny
from doit_study.io import DataError, atomic_dir, read_split_items, write_json
from doit_study.modeling import TinyLlama, folder_hash, load_tokenizer
from doit_study.sources.corpus import corpus_texts
from doit_study.sources.manifest import read_manifest
from doit_study.training import config_from


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--size", required=True)
    parser.add_argument("--raw", required=True)
    parser.add_argument("--annotated", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    params = load_group(args.params, "foundation")
    if args.size not in params.sizes:
        raise DataError(
            args.params,
            f"unknown size {args.size!r}; sizes are {', '.join(params.sizes)}",
            None,
            "foundation.sizes",
        )
    spec = params.sizes[args.size]
    out = Path(args.out)
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
            raw = Path(args.raw)
            texts = corpus_texts(
                raw, read_manifest(raw), read_split_items(Path(args.annotated), ("valid", "test"))
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
