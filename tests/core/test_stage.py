"""A stage's hold on its outputs: one run at a time per output, the lock beside the output (never in
what DVC records), and what a killed run left removed at the start and before the end."""

import os
import stat

import pytest

from doit_study.core import stage
from doit_study.core.files import DataError, atomic_dir


@pytest.fixture(autouse=True)
def _released():
    yield
    stage.release_outputs()


def _args(out, argv_out=None):
    return stage.stage_args("t", ["--out", str(argv_out or out)], paths={"out": "o"}, outs=("out",))


def test_a_second_run_on_a_held_output_stops_naming_the_holder(tmp_path):
    out = tmp_path / "models" / "sft" / "a"
    _args(out)
    lock = tmp_path / "models" / "sft" / ".a.lock"
    assert lock.is_file() and stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert f"pid {os.getpid()}" in lock.read_text()
    with pytest.raises(DataError, match=rf"another run is writing this output \(pid {os.getpid()}: "):
        _args(out)  # a second open file description: flock refuses it as it would another process
    stage.release_outputs()
    _args(out)  # free again once the holder ends
    assert not out.exists()  # the lock lives beside the output, which stays the stage's alone


def test_a_symlinked_lock_file_is_refused_and_its_target_kept(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".out.lock").symlink_to(victim)
    with pytest.raises(DataError, match="cannot open the output's lock file"):
        _args(tmp_path / "out")
    assert victim.read_text() == "keep me"


def test_leftovers_of_a_killed_write_are_removed_at_start_and_before_the_end(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "epoch-01").mkdir(parents=True)
    (out / ".epoch-02.x1y2.tmp").mkdir()  # a kill inside save_checkpoint's atomic_dir
    (out / ".epoch-02.x1y2.tmp" / "model.safetensors").write_bytes(b"half")
    (out / ".run.json.abc.tmp").write_text("{")  # a kill inside atomic_file
    (tmp_path / ".run.q1w2e3r4.tmp").mkdir()  # a kill inside atomic_dir of the whole output
    (tmp_path / ".other.q1w2e3r4.tmp").mkdir()  # another output's: not this stage's to remove
    (tmp_path / ".run.5.q1w2e3r4.tmp").mkdir()  # output run.5's, being written beside it right now

    def main(argv):
        _args(out)
        (out / ".epoch-03.zz.tmp").mkdir()  # what a helper might leave behind: swept at the end

    stage.run_stage(main, [])
    assert sorted(p.name for p in out.iterdir()) == ["epoch-01"]
    kept = [".other.q1w2e3r4.tmp", ".run.5.q1w2e3r4.tmp", ".run.lock", "run"]
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
    assert "left by a run killed while writing" in capsys.readouterr().err
    assert not stage._HELD  # released when the stage ended


def test_a_failed_stage_exits_2_and_releases_its_output(tmp_path):
    out = tmp_path / "run"

    def main(argv):
        _args(out)
        with atomic_dir(out) as tmp:
            (tmp / "part").write_text("x")
            raise DataError(tmp_path / "input.jsonl", "bad", 3)

    with pytest.raises(SystemExit) as stopped:
        stage.run_stage(main, [])
    assert stopped.value.code == 2 and not out.exists() and not stage._HELD
    _args(out)  # the lock is free for the next run


def test_only_the_main_process_of_a_distributed_run_takes_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    _args(tmp_path / "out")
    assert not (tmp_path / ".out.lock").exists() and not stage._HELD
