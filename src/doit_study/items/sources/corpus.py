"""The snapshot as plain text, for the tokenizer and the offline foundation models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from doit_study.core.files import read_json_lines
from doit_study.core.schema import Item
from doit_study.items.sources.builtin import material


def corpus_texts(raw_dir: Path, manifest: dict, eval_items: list[Item]) -> Iterator[str]:
    """Plain text of the snapshot, in a fixed order. Nothing valid or test items were made from
    reaches pretraining: builtin records behind an eval item are left out, and release or user
    sources give only their train files."""
    if manifest["source"] == "builtin":
        # a source key is "<record key>" or "<record key>:<question>"
        exclude = {item.source.key.split(":")[0] for item in eval_items if item.source}
        yield from material.corpus_texts(raw_dir, exclude)
        return
    for entry in manifest["files"]:
        if entry["split"] in ("train", "synthetic"):
            for _, record in read_json_lines(raw_dir / "files" / entry["file"]):
                yield "\n".join(m["content"] for m in record.get("messages", []))
