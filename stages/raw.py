"""Stage raw: snapshot the configured source's material into data/raw with a manifest."""

from __future__ import annotations

from doit_study.core.files import atomic_dir, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.sources.manifest import MANIFEST
from doit_study.items.sources.snapshot import snapshot
from doit_study.params.base import read_group
from doit_study.params.data import DataParams


def main(argv: list[str] | None = None) -> None:
    args = stage_args(__doc__, argv, paths={"out": "snapshot directory (data/raw)"})
    params = read_group(args.params, DataParams)
    with atomic_dir(args.out) as tmp:
        manifest = snapshot(params, tmp)
        write_json(tmp / MANIFEST, manifest)
    for name in manifest.get("ignored", []):  # named, so a misnamed file is never skipped unseen
        print(f"raw: ignored {name} (not a file of the source's layout)")
    print(f"raw: {params.source} snapshot written to {args.out}")


if __name__ == "__main__":
    run_stage(main)
