"""The fixed cost of a stage process: for a few stages of a built study, the stage command run cold
(`python -X importtime stages/<stage>.py ...`, no warm server) and warm (`python -m doit_study.pipeline.warm
...` with the server already up), side by side in one run. Prints JSON per stage: cold wall time,
the cold run's imports (the sum of `-X importtime`'s top-level entries, lazy imports during the stage
included), the stage's own work (cold wall minus interpreter start-up and imports), the warm run's
fixed cost (warm wall minus that work; 0 when the warm run beats the cold run's work, which also
pays first-call costs the server has paid), and the warm path's time to reach the stage's main()
(`--help` through the server: client, fork, the stage module's imports).

    python bench/stage_startup.py --workspace DIR [--stages evaluate@s-curated-n4 train@... ...]

DIR is a study built by `dvc repro` (e.g. `bench/default_study.py --keep DIR`); it is copied first,
so its outputs are not touched. Stages rerun on complete checkpoints (train resumes as done).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

DEFAULT = ("study", "analyse", "report", "evaluate_base@s")
TOP_LEVEL = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")  # no indent: a top-level import


def _run(argv: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{shlex.join(argv)} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stderr


def _imports(stderr: str) -> float:
    return sum(int(m.group(1)) for line in stderr.splitlines() if (m := TOP_LEVEL.match(line))) / 1e6


def measure(root: Path, command: str, repeats: int) -> dict:
    argv = shlex.split(command)
    if argv[:3] != ["python", "-m", "doit_study.pipeline.warm"]:
        sys.exit(f"not a warm stage command: {command}")
    script = argv[3:]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    interpreter, _ = _run([sys.executable, "-c", "pass"], root, env)
    cold, imports = [], []
    for _ in range(repeats):
        seconds, stderr = _run(
            [sys.executable, "-X", "importtime", *script], root, env | {"DOIT_STUDY_WARM": "0"}
        )
        cold.append(seconds)
        imports.append(_imports(stderr))
    _run([sys.executable, "-m", "doit_study.pipeline.warm", *script], root, env)  # the server is up
    warm = [
        _run([sys.executable, "-m", "doit_study.pipeline.warm", *script], root, env)[0]
        for _ in range(repeats)
    ]
    # the warm path up to the stage's main(): client, fork, the stage module's imports, argparse
    help_argv = [sys.executable, "-m", "doit_study.pipeline.warm", script[0], "--help"]
    started = [_run(help_argv, root, env)[0] for _ in range(repeats)]
    cold_s, imports_s, warm_s, start_s = (statistics.median(v) for v in (cold, imports, warm, started))
    work = max(cold_s - interpreter - imports_s, 0.0)
    return {
        "cold_s": round(cold_s, 2),
        "cold_imports_s": round(imports_s, 2),
        "work_s": round(work, 2),
        "cold_fixed_s": round(cold_s - work, 2),
        "warm_s": round(warm_s, 2),
        "warm_fixed_s": round(max(warm_s - work, 0.0), 2),
        "warm_to_main_s": round(start_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", required=True, type=Path, help="a study built by dvc repro")
    parser.add_argument(
        "--stages", nargs="+", default=None, help=f"default: {' '.join(DEFAULT)} + one train/evaluate"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (the median is reported)")
    args = parser.parse_args()
    lock = yaml.safe_load((args.workspace / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    first = [next(s for s in sorted(lock) if s.startswith(group)) for group in ("train@", "evaluate@")]
    stages = args.stages or [*DEFAULT, *first]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "study"
        shutil.copytree(
            args.workspace, root, symlinks=True, ignore=shutil.ignore_patterns(".dvc/tmp", ".dvc/cache")
        )
        found = {name: measure(root, lock[name]["cmd"], args.repeats) for name in stages}
    print(json.dumps({"cores": os.cpu_count(), "repeats": args.repeats, "stages": found}, indent=2))


if __name__ == "__main__":
    main()
