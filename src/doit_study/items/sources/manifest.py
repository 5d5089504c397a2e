"""The raw snapshot's manifest (data/raw/manifest.json): what the raw stage copied, and from where."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import read_json

MANIFEST = "manifest.json"


def read_manifest(raw_dir: Path) -> dict:
    return read_json(Path(raw_dir) / MANIFEST, "missing: run the raw stage first")
