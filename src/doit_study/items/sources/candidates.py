"""Stage annotate's input: a snapshot's items, with their split when the source fixes one."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.schema import Item
from doit_study.items.sources import release
from doit_study.items.sources.builtin import items as builtin


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
