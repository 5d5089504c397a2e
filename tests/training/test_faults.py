"""Faults of the train stage, run as DVC runs it: a kill while a checkpoint is written, and a second
run on an output another run holds (as after `kill -9` of `dvc`, which leaves its trainer running).
Each ends with the exact-resume check: the final checkpoint is byte for byte an uninterrupted run's."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from doit_study.modeling.checkpoints import last_complete_epoch
from doit_study.modeling.folders import WEIGHTS
from tests.helpers import REPO
from tests.training.test_distributed import setup  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
FINAL = f"epoch-03/{WEIGHTS}"


@pytest.fixture(scope="module")
def faults(setup):  # noqa: F811
    """setup's workspace with three epochs on a subset long enough (240 examples) to kill mid-run."""
    lines = (setup / "subset.jsonl").read_text(encoding="utf-8").splitlines() * 20
    (setup / "long.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = yaml.safe_load((setup / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["optim"]["epochs"] = 3
    (setup / "faults.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    assert _start(setup, "full").wait(timeout=600) == 0
    return setup


def _command(out: str) -> list[str]:
    args = ["--params", "faults.yaml", "--setting", "ddp", "--stage", "train@ddp", "--foundation", "s"]
    args += ["--seed", "0", "--subset", "long.jsonl", "--base", "base", "--raw-manifest", "manifest.json"]
    return [sys.executable, str(REPO / "stages/train.py"), *args, "--valid", "valid", "--out", out]


def _env(root, out: str) -> dict:
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / (out + '.db')}", "OMP_NUM_THREADS": "1"}


def _start(root, out: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(_command(out), cwd=root, env=_env(root, out), text=True, **kwargs)


def _run(root, out: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(out), cwd=root, env=_env(root, out), capture_output=True, text=True)


def _files(folder) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "run.json"
    )


def test_a_kill_while_writing_leaves_no_temporary_in_the_final_output(faults):
    run = _start(faults, "killed")
    deadline = time.monotonic() + 300
    while not (faults / "killed/epoch-01").is_dir() and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert last_complete_epoch(faults / "killed") < 3  # killed mid-run
    # what a kill inside save_checkpoint leaves (atomic_dir's temporary, half written)
    leftover = faults / "killed/.epoch-02.k1ll3d.tmp"
    leftover.mkdir(exist_ok=True)
    (leftover / WEIGHTS).write_bytes((faults / "full" / FINAL).read_bytes()[:1000])
    resumed = _run(faults, "killed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "left by a run killed while writing" in resumed.stderr
    assert not list((faults / "killed").glob(".*"))  # nothing DVC would record beyond a clean run's
    assert _files(faults / "killed") == _files(faults / "full")
    assert (faults / "killed" / FINAL).read_bytes() == (faults / "full" / FINAL).read_bytes()


def test_a_second_run_on_a_held_output_stops_at_once_naming_the_holder(faults):
    # `kill -9` of the parent (as of dvc) leaves the trainer running, holding its output
    parent = subprocess.Popen(
        ["sh", "-c", f"{subprocess.list2cmdline(_command('held'))}; true"],
        cwd=faults,
        env=_env(faults, "held"),
    )
    lock, deadline = faults / ".held.lock", time.monotonic() + 300
    while not (lock.is_file() and lock.read_text().startswith("pid ")) and time.monotonic() < deadline:
        time.sleep(0.01)
    trainer = int(lock.read_text().split()[1].rstrip(":"))
    os.kill(trainer, signal.SIGSTOP)  # held mid-run for as long as the second run takes to start
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        second = _run(faults, "held")
    finally:
        os.kill(trainer, signal.SIGCONT)
    assert second.returncode == 2, second.stderr[-3000:]
    assert f"another run is writing this output (pid {trainer}: " in second.stderr
    assert "stages/train.py" in second.stderr and "--out held" in second.stderr
    while os.path.exists(f"/proc/{trainer}"):  # the orphan finishes its run undisturbed
        time.sleep(0.1)
    again = _run(faults, "held")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((faults / "held/run.json").read_text())["checkpoints"][-1]["epoch"] == 3
    assert (faults / "held" / FINAL).read_bytes() == (faults / "full" / FINAL).read_bytes()
