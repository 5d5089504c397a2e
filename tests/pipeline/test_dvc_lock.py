"""The driver looks at DVC's locks before any work and names who holds them."""

import argparse
import fcntl
import json
import os
import subprocess
import time

import pytest

from doit_study.__main__ import dispatch_command
from doit_study.pipeline.dvc_lock import lock_holders
from tests.helpers import ENV, sh
from tests.helpers import dispatch_command as driver


def _hold_repo_lock(root):
    (root / ".dvc/tmp").mkdir(parents=True, exist_ok=True)
    handle = (root / ".dvc/tmp/lock").open("w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as zc.lockfile takes it
    handle.write(f" {os.getpid()}\n")
    handle.flush()
    return handle


def test_a_held_repository_lock_is_named_with_its_pid(tmp_path):
    handle = _hold_repo_lock(tmp_path)
    [holder] = lock_holders(tmp_path)
    assert holder.startswith(f"pid {os.getpid()} (") and "holds DVC's repository lock" in holder
    handle.close()
    assert lock_holders(tmp_path) == []  # the file stays after DVC ends: only a held lock counts


def test_live_writers_are_named_but_not_a_drivers_jobs_or_dead_ones(tmp_path):
    (tmp_path / ".dvc/tmp").mkdir(parents=True)
    writes = {
        "/w/a.txt": {"pid": os.getpid(), "cmd": "dvc repro -s slow"},
        "/w/b.txt": {"pid": os.getpid(), "cmd": "dvc --wait-for-lock repro --single-item b"},
        "/w/c.txt": {"pid": 2**22 + 7, "cmd": "dvc repro -s dead"},
    }
    (tmp_path / ".dvc/tmp/rwlock").write_text(json.dumps({"write": writes, "read": {}}))
    assert lock_holders(tmp_path) == [f"pid {os.getpid()} (dvc repro -s slow) is writing /w/a.txt"]


def test_the_driver_stops_before_any_work_while_dvc_holds_the_lock(tmp_path, monkeypatch, capsys):
    handle = _hold_repo_lock(tmp_path)
    monkeypatch.chdir(tmp_path)  # no dvc.yaml here: any work would fail otherwise
    assert dispatch_command(argparse.Namespace(dry_run=True, params=None)) == 1
    err = capsys.readouterr().err
    assert "DVC is busy in this workspace" in err and f"pid {os.getpid()}" in err
    handle.close()


@pytest.mark.slow
def test_a_driver_started_beside_a_running_dvc_repro_names_it(tmp_path):
    sh("git", "init", "-q", cwd=tmp_path)
    sh("dvc", "init", "-q", cwd=tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  slow: {cmd: sleep 15 && echo a > a.txt, outs: [a.txt]}\n")
    job = subprocess.Popen(["dvc", "repro", "-s", "slow"], cwd=tmp_path, env=ENV)
    try:
        lock, deadline = tmp_path / ".dvc/tmp/rwlock", time.monotonic() + 60
        while not (lock.is_file() and "a.txt" in lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        result = subprocess.run(driver("--dry-run"), cwd=tmp_path, env=ENV, capture_output=True, text=True)
        assert result.returncode == 1 and job.poll() is None, result.stderr
        assert f"pid {job.pid} (" in result.stderr and "repro -s slow) is writing" in result.stderr
        assert time.monotonic() - started < 30  # at once, not after waiting for the stage
    finally:
        job.wait(timeout=120)
    assert job.returncode == 0  # the running stage was left alone
