"""Stage raw's work: a source's material copied under data/raw, and its manifest (package or
dataset, version or revision, sha256 of every file, record counts)."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError
from doit_study.items.sources import release
from doit_study.items.sources.builtin.material import snapshot_builtin
from doit_study.params.data import DataParams

SOURCES = ("builtin", "doit", "jsonl")


def snapshot(params: DataParams, out_dir: Path) -> dict:
    """Write the source's material into out_dir and return its manifest."""
    if params.source == "builtin":
        materials = snapshot_builtin(out_dir, params.seed, params.math_instances)
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
        ignored = release.ignored_files(root, files)
        return {
            "source": "doit",
            "repo_id": params.doit.repo_id,
            "revision": revision,
            "files": release.snapshot_files(files, root, out_dir, ignored),
            "ignored": ignored,
        }
    if params.source == "jsonl":
        root = Path(params.jsonl.path)
        files = release.user_files(root)
        ignored = release.ignored_files(root, files)
        return {
            "source": "jsonl",
            "files": release.snapshot_files(files, root, out_dir, ignored),
            "ignored": ignored,
        }
    raise DataError(
        "params.yaml",
        f"unknown source {params.source!r}; expected one of {', '.join(SOURCES)}",
        None,
        "data.source",
    )
