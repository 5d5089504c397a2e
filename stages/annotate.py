"""Stage annotate: standardise the snapshot into items, filter, de-duplicate across splits, split,
add distractors; write data/annotated/{train,valid,test}/<ability>.jsonl and report.json, which
holds every lettered set's gold-letter distribution. A built set whose gold letters are uneven over
the positions fails the stage; a released one is kept as published and reported."""

from __future__ import annotations

import math
from pathlib import Path

from doit_study.core.files import DataError, atomic_dir, write_items, write_json
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.annotation import annotate, check_leakage, maths_answer_warnings
from doit_study.items.answer_positions import unbalanced_sets
from doit_study.items.sources.candidates import candidate_items
from doit_study.items.sources.manifest import read_manifest
from doit_study.params.annotate import AnnotateParams
from doit_study.params.base import read_group

MARGIN = 1.03  # build a few more candidates than the target: filters and de-duplication drop some


def main(argv: list[str] | None = None) -> None:
    paths = {"raw": "snapshot directory written by stage raw", "out": "annotated directory (data/annotated)"}
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, AnnotateParams)
    raw = args.raw
    manifest = read_manifest(raw)
    counts = {ability: math.ceil(target * MARGIN) + 5 for ability, target in params.targets.items()}
    candidates = candidate_items(raw, manifest, counts, params.ood_size, params.seed)
    check_leakage(candidates, raw / "files")
    result = annotate(
        candidates,
        params.targets,
        valid_size=params.valid_size,
        test_size=params.test_size,
        max_chars=params.max_chars,
        seed=params.seed,
    )
    positions = unbalanced_sets(result.splits, params.answer_position_p)
    if positions["failing"] and manifest["source"] == "builtin":
        found = {name: positions["sets"][name]["observed"] for name in positions["failing"]}
        raise DataError(
            f"annotate.answer_position_p: gold letters uneven over the positions (p < "
            f"{params.answer_position_p}) in {found}: a model could score by position alone"
        )
    with atomic_dir(args.out) as tmp:
        for split in ("train", "valid", "test"):
            (Path(tmp) / split).mkdir()
            for name, items in result.splits.get(split, {}).items():
                write_items(Path(tmp) / split / f"{name}.jsonl", items)
        warnings = maths_answer_warnings(candidates)
        report = result.report | {"gold_letters": positions, "maths_answer_warnings": warnings}
        write_json(Path(tmp) / "report.json", report)
    if warnings:
        print(
            f"annotate: {len(warnings)} maths solutions end on another value than their answer (report.json)"
        )
    total = result.report["total"]
    print(
        f"annotate: kept {total['kept']} of {total['candidates']} candidates; "
        f"report in {args.out}/report.json"
    )


if __name__ == "__main__":
    run_stage(main)
