"""What a stage spends around its work, per stage kind, for this code and (with `--baseline REV`)
an earlier commit side by side in one run. Each stage runs as DVC runs it (through the warm server,
already up), in a copy of a built study; its wall time is split into the work and the rest:

- work: for train stages the training loop (`training.loop.train`), for evaluation stages the
  model's calls (`evaluation.model_calls`: greedy generation, continuation and next-token scores),
  for stages without a model the stage's whole `main()`;
- overhead: the rest of the wall time (client, fork, imports, reading and checking inputs, loading
  checkpoints, MLflow, writing outputs).

    python bench/stage_overhead.py --workspace DIR [--params PROFILE] [--baseline REV] [--stages ...]

DIR is a study built by `dvc repro` (e.g. `bench/default_study.py --keep DIR`); it is copied, so its
outputs are not touched. A train stage's output is removed before each run (a complete one would
resume as done). Prints JSON: medians per stage and version, and the overhead's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
KINDS = ("train", "evaluate", "evaluate_base", "analyse", "report")
WORK = {
    "train": ["doit_study.training.loop:train"],
    "evaluate": [
        f"doit_study.evaluation.model_calls:{name}"
        for name in ("generate_greedy", "continuation_nll", "next_token_logprobs")
    ],
}
WORK["train_mix"], WORK["evaluate_mix"], WORK["evaluate_base"] = (
    WORK["train"],
    WORK["evaluate"],
    WORK["evaluate"],
)
TIMED = """
import importlib, json, os, runpy, sys, time
spent, depth = [0.0], [0]
def timed(function):
    def call(*args, **kwargs):
        depth[0] += 1
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            depth[0] -= 1
            if not depth[0]:
                spent[0] += time.perf_counter() - start
    return call
names = json.loads(os.environ["BENCH_WORK"])
for name in names:  # patched before the stage imports them, so `from m import f` gets the timed f
    module, attribute = name.split(":")
    module = importlib.import_module(module)
    setattr(module, attribute, timed(getattr(module, attribute)))
sys.argv = sys.argv[1:]
start = time.perf_counter()
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    whole = time.perf_counter() - start
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"work": spent[0] if names else whole}, out)
"""


def _stages(lock: dict, wanted: list[str] | None) -> list[str]:
    if wanted:
        return wanted
    return [next(name for name in lock if name.split("@")[0] == kind) for kind in KINDS]


def _once(root: Path, command: str, stage: str, env: dict) -> tuple[float, float]:
    argv = shlex.split(command)
    if argv[:3] != ["python", "-m", "doit_study.pipeline.warm"]:
        sys.exit(f"not a warm stage command: {command}")
    if stage.split("@")[0] in ("train", "train_mix"):
        shutil.rmtree(root / argv[argv.index("--out") + 1], ignore_errors=True)
    out = root / ".bench-work.json"
    env = env | {"BENCH_WORK": json.dumps(WORK.get(stage.split("@")[0], [])), "BENCH_OUT": str(out)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *argv[1:3], str(root / ".bench-timed.py"), *argv[3:]],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{stage} failed in {root}:\n{done.stderr[-2000:]}")
    return wall, json.loads(out.read_text())["work"]


def _version(workspace: Path, tmp: Path, name: str, source: Path | None, params: str) -> tuple[Path, dict]:
    """A copy of the workspace whose stages, library and params file (`params`, a path in the
    source: the two versions' params may differ in keys) are `source`'s (None: this checkout's)."""
    root = tmp / name
    shutil.copytree(workspace, root, symlinks=True, ignore=shutil.ignore_patterns(".dvc/tmp", ".dvc/cache"))
    (root / ".bench-timed.py").write_text(TIMED)
    shutil.copyfile((source or REPO) / params, root / "params.yaml")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    if source is not None:
        shutil.rmtree(root / "stages")
        shutil.copytree(source / "stages", root / "stages")
        env["PYTHONPATH"] = str(source / "src")  # before the editable install of this checkout
    return root, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", required=True, type=Path, help="a study built by dvc repro")
    parser.add_argument("--baseline", help="a commit to compare with (its stages and library)")
    parser.add_argument("--stages", nargs="*", help="instead of the first stage of each kind")
    parser.add_argument(
        "--params", default="params.yaml", help="the profile DIR was built with (each version's own)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (the median is reported)")
    args = parser.parse_args()
    lock = yaml.safe_load((args.workspace / "dvc.lock").read_text())["stages"]
    stages = _stages(lock, args.stages)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sources = {"current": None}
        if args.baseline:
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tmp / "src-baseline"), args.baseline],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            sources["baseline"] = tmp / "src-baseline"
        try:
            versions = {
                name: _version(args.workspace, tmp, name, source, args.params)
                for name, source in sources.items()
            }
            found: dict = {stage: {} for stage in stages}
            for stage in stages:
                runs = {name: [] for name in versions}
                for repeat in range(args.repeats + 1):  # the first run starts the server: not counted
                    for name, (root, env) in versions.items():  # interleaved: same machine state
                        timing = _once(root, lock[stage]["cmd"], stage, env)
                        if repeat:
                            runs[name].append(timing)
                for name, timings in runs.items():
                    wall = statistics.median(t[0] for t in timings)
                    work = statistics.median(t[1] for t in timings)
                    found[stage][name] = {
                        "wall_s": round(wall, 3),
                        "work_s": round(work, 3),
                        "overhead_s": round(wall - work, 3),
                    }
                if "baseline" in runs:
                    before, after = (
                        found[stage]["baseline"]["overhead_s"],
                        found[stage]["current"]["overhead_s"],
                    )
                    found[stage]["overhead_ratio"] = round(before / after, 2) if after > 0 else None
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tmp / "src-baseline")],
                    cwd=REPO,
                    capture_output=True,
                )
    print(
        json.dumps(
            {"cores": os.cpu_count(), "repeats": args.repeats, "baseline": args.baseline, "stages": found},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
