"""Stages in a warm process (doit_study.pipeline.warm): the same outputs, exit status, streams, directory and
environment as the cold process, and a child that dies with its caller."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ENV

pytestmark = pytest.mark.slow  # the first call starts a server (the heavy imports)

SCRIPT = """
import os, sys
import torch  # preloaded by the server
print("args", sys.argv[1:], "cwd", os.getcwd(), "marker", os.environ.get("MARKER"), flush=True)
print("threads", torch.get_num_threads(), file=sys.stderr, flush=True)
if sys.argv[1:] == ["sleep"]:
    open("started", "w").write(str(os.getpid()))
    import time
    time.sleep(60)
    open("finished", "w").close()
if sys.argv[1:] == ["fail"]:
    raise SystemExit(2)
if sys.argv[1:] == ["raise"]:
    raise ValueError("boom")
"""


def _run(tmp_path: Path, *args: str, warm: str = "1", **extra) -> subprocess.CompletedProcess:
    env = {**ENV, "MARKER": "m1", "DOIT_STUDY_WARM": warm, "OMP_NUM_THREADS": "1", **extra}
    command = [sys.executable, "-m", "doit_study.pipeline.warm", str(tmp_path / "stage.py"), *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def stage(tmp_path):
    (tmp_path / "stage.py").write_text(SCRIPT, encoding="utf-8")
    return tmp_path


def test_a_warm_stage_sees_what_a_cold_one_sees(stage):
    cold = _run(stage, "a", "b c", warm="0")
    warm = _run(stage, "a", "b c")
    again = _run(stage, "a", "b c")
    assert cold.returncode == warm.returncode == again.returncode == 0
    assert cold.stdout == warm.stdout == again.stdout == f"args ['a', 'b c'] cwd {stage} marker m1\n"
    assert cold.stderr == warm.stderr == again.stderr == "threads 1\n"


def test_exit_status_and_tracebacks_are_the_callers(stage):
    assert _run(stage, "fail").returncode == 2
    failed = _run(stage, "raise")
    assert failed.returncode == 1 and "ValueError: boom" in failed.stderr


def test_another_environment_gets_its_own_server(stage):
    assert "marker m2" in _run(stage, "x", MARKER="m2").stdout


def test_the_child_dies_with_its_caller(stage):
    env = {**ENV, "MARKER": "m1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "doit_study.pipeline.warm", str(stage / "stage.py"), "sleep"]
    caller = subprocess.Popen(
        command, cwd=stage, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not (stage / "started").exists():
        assert time.monotonic() < deadline and caller.poll() is None
        time.sleep(0.05)
    child = int((stage / "started").read_text())
    assert child != caller.pid  # the stage ran in a forked child, not in the caller
    os.kill(caller.pid, signal.SIGKILL)
    caller.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the stage outlived its caller"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"  # a zombie has ended (its server reaps it later)
