"""A no-op `dvc status` and `dvc repro` on the paper profile's DAG (117 stages), timed.

The real outputs need GPUs, so the DAG is built in a temporary copy with a small placeholder for
every dependency and output, recorded in dvc.lock by `dvc commit`; what is measured is DVC's own
cost of finding that nothing changed (parsing, params, hashing checks per stage). DVC parses
params.yaml once per stage; the parse is also timed with ruamel's C parser (ruamel.yaml.clib, which
DVC uses when installed) and its pure-Python one, side by side. Prints JSON.

    python bench/noop_status.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from doit_study.pipeline.workspace import copy_without_outputs

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
FILE_SUFFIXES = {".json", ".jsonl", ".csv", ".md", ".html", ".py", ".lock", ".yaml", ".png"}


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _placeholder(path: Path) -> None:
    """A file where the path names a file, else a folder holding one file."""
    if path.exists():
        return
    if path.suffix in FILE_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"placeholder {path.name}\n", encoding="utf-8")
    else:
        path.mkdir(parents=True, exist_ok=True)
        (path / "placeholder").write_text(f"placeholder {path.name}\n", encoding="utf-8")


def build(root: Path) -> int:
    copy_without_outputs(REPO, root, REPO / "profiles/paper.yaml")
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        stages = list(repo.index.stages)
        for stage in stages:
            for entry in [*stage.deps, *stage.outs]:
                if not getattr(entry, "IS_DEPENDENCY", False) or entry.def_path != "params.yaml":
                    _placeholder(root / entry.def_path)
    _run(["dvc", "commit", "-f", "-q"], root)
    return len(stages)


def timed(args: list[str], cwd: Path, repeats: int) -> dict:
    seconds, output = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        output = _run(args, cwd)
        seconds.append(time.perf_counter() - start)
    return {
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
        "output": output.strip()[-80:],
    }


def params_parse_ms(path: Path, repeats: int = 50) -> dict:
    """Milliseconds per parse of a params file, as DVC parses it (ruamel, typ="safe")."""
    from ruamel.yaml import YAML

    text = path.read_text(encoding="utf-8")
    result = {}
    for name, pure in (("c_parser", False), ("pure_python", True)):
        start = time.perf_counter()
        for _ in range(repeats):
            YAML(typ="safe", pure=pure).load(text)
        result[name] = round((time.perf_counter() - start) / repeats * 1000, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stages = build(root)
        status = timed(["dvc", "status"], root, args.repeats)
        repro = timed(["dvc", "repro"], root, args.repeats)
        parse = params_parse_ms(root / "params.yaml")
    report = {
        "stages": stages,
        "dvc_status": status,
        "dvc_repro": repro,
        "nothing_ran": "Running stage" not in repro["output"],
        "params_yaml_parse_ms": parse,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
