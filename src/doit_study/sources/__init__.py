"""Sources of raw material (param `data.source`): builtin, doit and jsonl.

`snapshot` (stage raw) copies a source's material under data/raw with a manifest; `candidate_items`
(stage annotate) turns a snapshot into items, with a split when the source fixes one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from doit_study.config import DataParams
from doit_study.io import DataError, read_json_lines
from doit_study.schema import Item
from doit_study.sources import builtin, release

SOURCES = ("builtin", "doit", "jsonl")
MANIFEST = "manifest.json"


def snapshot(params: DataParams, out_dir: Path) -> dict:
    """Write the source's material into out_dir and return its manifest."""
    if params.source == "builtin":
        materials = builtin.snapshot_builtin(out_dir, params.seed, params.math_instances)
        return {"source": "builtin", "materials": materials}
    if params.source == "doit":
        if params.doit.path:
            root, revision = Path(params.doit.path), None
        else:
            root, revision = (
                release.fetch_release(params.doit.repo_id, params.doit.revision),
                params.doit.revision,
            )
        files = release.release_files(root)
        return {
            "source": "doit",
            "repo_id": params.doit.repo_id,
            "revision": revision,
            "files": release.snapshot_files(files, root, out_dir),
        }
    if params.source == "jsonl":
        root = Path(params.jsonl.path)
        return {"source": "jsonl", "files": release.snapshot_files(release.user_files(root), root, out_dir)}
    raise DataError(
        "params.yaml",
        f"unknown source {params.source!r}; expected one of {', '.join(SOURCES)}",
        None,
        "data.source",
    )


def read_manifest(raw_dir: Path) -> dict:
    path = raw_dir / MANIFEST
    if not path.is_file():
        raise DataError(path, "missing: run the raw stage first")
    return json.loads(path.read_text(encoding="utf-8"))


def corpus_texts(raw_dir: Path, manifest: dict, eval_items: list[Item]) -> Iterator[str]:
    """Plain text of the snapshot, in a fixed order, for the tokenizer and the offline foundation
    models. Nothing valid or test items were made from reaches pretraining: builtin records behind an
    eval item are left out, and release or user sources give only their train files."""
    if manifest["source"] == "builtin":
        # a source key is "<record key>" or "<record key>:<question>"
        exclude = {item.source.key.split(":")[0] for item in eval_items if item.source}
        yield from builtin.corpus_texts(raw_dir, exclude)
        return
    for entry in manifest["files"]:
        if entry["split"] in ("train", "synthetic"):
            for _, record in read_json_lines(raw_dir / "files" / entry["file"]):
                yield "\n".join(m["content"] for m in record.get("messages", []))


def candidate_items(
    raw_dir: Path, manifest: dict, counts: dict[str, int], ood_size: int, seed: int
) -> list[tuple[Item, str | None]]:
    """(item, split or None) pairs; None lets annotate choose the split."""
    if manifest["source"] == "builtin":
        wanted = dict(counts) | dict.fromkeys(builtin.OOD_SETS, ood_size)
        built = builtin.build_builtin_items(raw_dir, manifest, wanted, seed)
        return [
            (item, "test" if name in builtin.OOD_SETS else None)
            for name in sorted(built)
            for item in built[name]
        ]
    return release.read_release_items(raw_dir, manifest)
