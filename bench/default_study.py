"""Times the whole default study: `dvc repro` from scratch in a fresh copy of the repository (the
checked-in files, none of the outputs), with the time of every stage. With `--dispatch-jobs N`, then
the same build in a second fresh copy through the dispatch driver's local executor, N stages at
once, and whether both wrote the same outputs. Prints JSON.

    python bench/default_study.py [--params params.yaml] [--keep DIR] [--dispatch-jobs N]

Run it on an idle machine: the budget is 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from doit_study.pipeline.workspace import copy_without_outputs

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "DVC_NO_ANALYTICS": "1",
}
RUNNING = re.compile(r"^Running stage '([^']+)'")


def timed_repro(root: Path) -> dict:
    """`dvc repro`, with the wall time from each stage's start to the next one's."""
    stages: dict[str, float] = {}
    current, mark = None, time.perf_counter()
    start = mark
    process = subprocess.Popen(
        ["dvc", "repro"], cwd=root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in process.stdout:
        found = RUNNING.match(line)
        if found:
            now = time.perf_counter()
            if current:
                stages[current] = round(now - mark, 2)
            current, mark = found.group(1), now
    if process.wait():
        sys.exit(f"dvc repro failed in {current}")
    end = time.perf_counter()
    if current:
        stages[current] = round(end - mark, 2)
    groups: dict[str, float] = {}
    for name, seconds in stages.items():
        group = name.split("@")[0]
        groups[group] = round(groups.get(group, 0.0) + seconds, 2)
    return {
        "total_s": round(end - start, 1),
        "stages": len(stages),
        "by_group_s": groups,
        "by_stage_s": stages,
    }


def timed_dispatch(root: Path, jobs: int) -> dict:
    """The driver with submitit's local executor, `jobs` stages at once."""
    command = [sys.executable, "-m", "doit_study", "dispatch", "--executor", "local", "--jobs", str(jobs)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=ENV, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"dispatch failed:\n{result.stdout}{result.stderr}")
    return {"total_s": round(time.perf_counter() - start, 1), "jobs": jobs}


def output_hashes(root: Path) -> dict:
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    return {name: [(o["path"], o["md5"]) for o in stage.get("outs", [])] for name, stage in lock.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temporary folder)")
    parser.add_argument("--dispatch-jobs", type=int, help="then build through the driver, N stages at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "serial"
        root.mkdir(parents=True, exist_ok=True)
        copy_without_outputs(REPO, root, args.params.resolve())
        result = timed_repro(root)
        if args.dispatch_jobs:
            side = copy_without_outputs(REPO, Path(tmp) / "dispatch", args.params.resolve())
            driven = result["dispatch"] = timed_dispatch(side, args.dispatch_jobs)
            driven["serial_over_dispatch"] = round(result["total_s"] / driven["total_s"], 2)
            driven["same_outputs"] = output_hashes(side) == output_hashes(root)
            result["cpus"] = os.cpu_count()
    result["budget_s"] = 15 * 60
    result["within_budget"] = result["total_s"] <= result["budget_s"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
