"""Stage tokenizer: a byte-level BPE trained on the raw corpus (valid and test material left out),
saved as a Hugging Face tokenizer folder (models/tokenizer)."""

from __future__ import annotations

from doit_study.core.files import atomic_dir, read_split_items
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.sources.corpus import corpus_texts
from doit_study.items.sources.manifest import read_manifest
from doit_study.modeling.tokenizer import train_tokenizer
from doit_study.params.base import read_group
from doit_study.params.tokenizer import TokenizerParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "raw": "snapshot directory (data/raw)",
        "annotated": "data/annotated (its valid and test material is left out)",
        "out": "tokenizer folder (models/tokenizer)",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, TokenizerParams)
    raw = args.raw
    texts = corpus_texts(raw, read_manifest(raw), read_split_items(args.annotated, ("valid", "test")))
    tokenizer = train_tokenizer(texts, params.vocab_size)
    with atomic_dir(args.out) as tmp:
        tokenizer.save_pretrained(tmp)
    print(f"tokenizer: {len(tokenizer)} tokens written to {args.out}")


if __name__ == "__main__":
    run_stage(main)
