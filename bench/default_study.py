"""Times the whole default study: `dvc repro` from scratch in a fresh copy of the repository (the
checked-in files, none of the outputs), with the time of every stage. Prints JSON.

    python bench/default_study.py [--params params.yaml] [--keep DIR]

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

from doit_study.workspace import copy_without_outputs

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        copy_without_outputs(REPO, root, args.params.resolve())
        result = timed_repro(root)
    result["budget_s"] = 15 * 60
    result["within_budget"] = result["total_s"] <= result["budget_s"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
