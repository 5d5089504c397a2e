"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from doit_study.io import read_items
from tests.conftest import REPO

pytestmark = pytest.mark.slow
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "DVC_NO_ANALYTICS": "1",
}


def _sh(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _copy_with_smoke_profile(target: Path) -> Path:
    files = _sh("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=REPO).split("\n")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file() and not name.startswith(("data/", "models/", "metrics/")) and name != "dvc.lock":
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    shutil.copy(REPO / "profiles/smoke.yaml", target / "params.yaml")
    _sh("git", "init", "-q", cwd=target)
    _sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A", cwd=target)
    _sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "smoke", cwd=target)
    return target


def _lock_hashes(root: Path) -> dict:
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    return {
        name: [(o["path"], o["md5"]) for o in stage.get("outs", [])] for name, stage in lock["stages"].items()
    }


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    first = _copy_with_smoke_profile(tmp_path_factory.mktemp("first"))
    second = _copy_with_smoke_profile(tmp_path_factory.mktemp("second"))
    for root in (first, second):
        _sh("dvc", "repro", cwd=root)
    return first, second


def test_repro_writes_every_data_output(smoke_runs):
    root, _ = smoke_runs
    for split in ("train", "valid", "test"):
        assert len(read_items(root / f"data/annotated/{split}/ethics.jsonl")) == {"train": 40}.get(split, 10)
    assert (root / "data/annotated/report.json").is_file()
    assert len(list((root / "data/expanded").glob("*.jsonl"))) == 10
    assert (root / "data/subsets/mix-reconstruct.jsonl").is_file()
    metrics = _sh("dvc", "metrics", "show", cwd=root)
    assert "data/annotated/report.json" in metrics and "types.ethics.kept" in metrics


def test_second_repro_is_a_no_op(smoke_runs):
    root, _ = smoke_runs
    output = _sh("dvc", "repro", cwd=root)
    assert "Running stage" not in output
    assert "up to date" in _sh("dvc", "status", cwd=root)


def test_two_clean_runs_give_identical_hashes(smoke_runs):
    first, second = smoke_runs
    assert _lock_hashes(first) == _lock_hashes(second)
    assert all(_lock_hashes(first).values())


def test_a_params_change_reruns_only_the_stages_that_read_it(smoke_runs):
    root, _ = smoke_runs
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["expand"]["n_per_ability"] = [1, 4, 8]
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    output = _sh("dvc", "repro", cwd=root)
    assert "Running stage 'expand'" in output
    assert "Running stage 'raw'" not in output and "Running stage 'annotate'" not in output
    assert (root / "data/subsets/curated-n8.jsonl").is_file()
