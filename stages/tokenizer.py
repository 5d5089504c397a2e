"""Stage tokenizer: a byte-level BPE trained on the raw corpus (valid and test material left out),
saved as a Hugging Face tokenizer folder (models/tokenizer)."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.io import atomic_dir, read_split_items
from doit_study.sources.corpus import corpus_texts
from doit_study.sources.manifest import read_manifest
from doit_study.tokenizer_training import train_tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw", required=True)
    parser.add_argument("--annotated", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    params = load_group(args.params, "tokenizer")
    raw = Path(args.raw)
    texts = corpus_texts(raw, read_manifest(raw), read_split_items(Path(args.annotated), ("valid", "test")))
    tokenizer = train_tokenizer(texts, params.vocab_size)
    with atomic_dir(args.out) as tmp:
        tokenizer.save_pretrained(tmp)
    print(f"tokenizer: {len(tokenizer)} tokens written to {args.out}")


if __name__ == "__main__":
    run_stage(main)
