"""A fresh copy of the repository without the pipeline's outputs: what a clean clone holds, for the
end-to-end tests and the bench scripts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

OUTPUTS = ("data/", "models/", "metrics/")
INPUTS = ("models/pretrained/",)  # under an output folder, but a clone has it: real checkpoints go there


def _git(*args: str, cwd: Path) -> str:
    command = ["git", "-c", "user.name=doit-study", "-c", "user.email=doit-study@localhost", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout


def copy_without_outputs(repo: Path, target: Path, params: Path) -> Path:
    """Copy `repo`'s files (tracked, and untracked but not ignored) except data/, models/, metrics/
    (models/pretrained/ excepted) and dvc.lock into `target`, with `params` as params.yaml,
    committed in a new git repository."""
    for name in _git("ls-files", "--cached", "--others", "--exclude-standard", cwd=repo).splitlines():
        source = repo / name
        output = name.startswith(OUTPUTS) and not name.startswith(INPUTS)
        if source.is_file() and not output and name != "dvc.lock":
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    shutil.copy(params, target / "params.yaml")
    _git("init", "-q", "-b", "main", cwd=target)
    _git("add", "-A", cwd=target)
    _git("commit", "-qm", "copy without outputs", cwd=target)
    return target
