"""Stage raw: snapshot the configured source's material into data/raw with a manifest."""

from __future__ import annotations

from pathlib import Path

from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.io import atomic_dir, write_json
from doit_study.sources.manifest import MANIFEST
from doit_study.sources.snapshot import snapshot


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", required=True, help="snapshot directory (data/raw)")
    args = parser.parse_args(argv)
    params = load_group(args.params, "data")
    with atomic_dir(args.out) as tmp:
        manifest = snapshot(params, Path(tmp))
        write_json(Path(tmp) / MANIFEST, manifest)
    print(f"raw: {params.source} snapshot written to {args.out}")


if __name__ == "__main__":
    run_stage(main)
