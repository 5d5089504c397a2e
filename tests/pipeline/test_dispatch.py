"""The dispatch driver: which stages are ready, waves, resources, retries and failures on a DAG
with a fake DVC and job system; then for real: the smoke study through submitit's local executor
(two jobs at once) and through a one-node Slurm cluster, each ending with the dvc.lock of a serial
`dvc repro`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from doit_study.core.files import DataError
from doit_study.params.dispatch import ResourceRule
from doit_study.pipeline import dispatch

GRAPH = {  # stage -> upstream, like a small study
    "raw": set(),
    "annotate": {"raw"},
    "tokenizer": {"raw"},
    "train@a": {"annotate", "tokenizer"},
    "train@b": {"annotate", "tokenizer"},
    "evaluate@a": {"train@a"},
    "evaluate@b": {"train@b"},
    "study": {"evaluate@a", "evaluate@b"},
}


def _rule(match: str, gpus: int = 0) -> ResourceRule:
    return ResourceRule(match=match, gpus=gpus, cpus=1, mem_gb=1, time_min=5, partition=None)


def test_resources_come_from_the_first_matching_rule():
    rules = [_rule("train@33b-*", gpus=8), _rule("evaluate*", gpus=1), _rule("*")]
    assert dispatch.resources_for("train@33b-curated-n64", rules).gpus == 8
    assert dispatch.resources_for("evaluate_mix@maximum", rules).gpus == 1
    assert dispatch.resources_for("train@7b-curated-n1", rules).gpus == 0
    with pytest.raises(ValueError, match="no rule matches stage 'study'"):
        dispatch.resources_for("study", [_rule("train*")])


def test_a_stage_is_ready_once_nothing_above_it_is_stale_running_or_failed():
    assert dispatch.ready(GRAPH, set(GRAPH), set()) == ["raw"]
    assert dispatch.ready(GRAPH, {"annotate", "tokenizer", "study"}, set()) == ["annotate", "tokenizer"]
    changed = {"train@a", "train@b", "evaluate@a", "evaluate@b", "study"}
    assert dispatch.ready(GRAPH, changed, set()) == ["train@a", "train@b"]
    assert dispatch.ready(GRAPH, changed - {"train@a"}, {"train@b"}) == ["evaluate@a"]  # b runs
    assert dispatch.ready(GRAPH, {"evaluate@b", "study"}, {"train@b"}) == []  # below a failure


def test_waves_by_dependency_include_what_a_stale_stage_will_change():
    assert dispatch.waves(GRAPH, {"annotate"}) == [
        ["annotate"],
        ["train@a", "train@b"],
        ["evaluate@a", "evaluate@b"],
        ["study"],
    ]
    assert dispatch.waves(GRAPH, set()) == []


class FakeDVC:
    """DVC's view: a stage is stale until its job succeeds; a stage below a rerun is stale too."""

    def __init__(self, changed: set[str]):
        self.changed = set(changed)

    def succeed(self, stage: str) -> None:
        self.changed.discard(stage)
        self.changed |= {s for s in GRAPH if stage in GRAPH[s]}


class FakeLauncher:
    """Jobs that end at the next poll, failing for the stages in `failing` (every attempt)."""

    def __init__(self, dvc: FakeDVC, failing=(), capacity: int = 2, slow=()):
        self.dvc, self.failing, self.capacity, self.slow = dvc, set(failing), capacity, set(slow)
        self.jobs, self.submitted = {}, []

    def submit(self, stages):
        taken = stages[: self.capacity - len(self.jobs)]
        self.jobs |= {stage: 3 if stage in self.slow else 1 for stage in taken}  # polls to end
        self.submitted.append(taken)
        return taken

    def ended(self):
        ended = {}
        for stage in list(self.jobs):
            self.jobs[stage] -= 1
            if self.jobs[stage]:
                continue
            ok = stage not in self.failing
            if ok:
                self.dvc.succeed(stage)
            ended[stage] = (ok, f"/logs/{stage}.out")
            del self.jobs[stage]
        return ended


def _settings(retries: int = 1) -> dispatch.Settings:
    return dispatch.Settings("local", 2, retries, 0.0, Path("/logs"), (_rule("*"),))


def _drive(
    monkeypatch, dvc: FakeDVC, launcher: FakeLauncher, elsewhere=lambda: set(), retries: int = 1, targets=()
):
    monkeypatch.setattr(dispatch, "dag", lambda root: GRAPH)

    def stale(root, only=None):  # like DVC: a running stage's outputs are busy
        running = set(launcher.jobs) | seen_elsewhere
        below = dispatch.downstream(GRAPH, running)
        assert only is not None if running or targets else only is None
        assert not (only or set()) & (running | below), "dvc status: outputs busy"
        return set(dvc.changed) & (set(GRAPH) if only is None else only)

    monkeypatch.setattr(dispatch, "stale", stale)
    seen_elsewhere: set[str] = set()

    def running_elsewhere(root, settings):
        seen_elsewhere.clear()
        seen_elsewhere.update(elsewhere())
        return set(seen_elsewhere)

    monkeypatch.setattr(dispatch, "running_elsewhere", running_elsewhere)
    lines: list[str] = []
    outcome = dispatch.dispatch(Path("/repo"), _settings(retries), lines.append, launcher, targets)
    return outcome, lines


def test_everything_stale_runs_in_dependency_order_two_at_a_time(monkeypatch):
    dvc = FakeDVC(set(GRAPH))
    launcher = FakeLauncher(dvc)
    outcome, _ = _drive(monkeypatch, dvc, launcher)
    assert dvc.changed == set() and not outcome.failed
    assert launcher.submitted[:4] == [
        ["raw"],
        ["annotate", "tokenizer"],
        ["train@a", "train@b"],
        ["evaluate@a", "evaluate@b"],
    ]
    assert sorted(outcome.done) == sorted(GRAPH)


def test_targets_run_with_the_stages_above_them_and_nothing_else(monkeypatch):
    dvc = FakeDVC(set(GRAPH))
    launcher = FakeLauncher(dvc)
    outcome, _ = _drive(monkeypatch, dvc, launcher, targets=["evaluate@a"])
    assert sorted(outcome.done) == ["annotate", "evaluate@a", "raw", "tokenizer", "train@a"]
    assert dvc.changed == {"train@b", "evaluate@b", "study"}  # as `dvc repro evaluate@a` leaves them
    assert dispatch.restricted(GRAPH, ["train@a", "train@b"])["train@b"] == {"annotate", "tokenizer"}
    assert dispatch.restricted(GRAPH, []) == GRAPH
    with pytest.raises(ValueError, match=r"no such stage in dvc\.yaml: evaluate@c"):
        dispatch.restricted(GRAPH, ["evaluate@a", "evaluate@c"])


def test_a_job_runs_with_its_threads_capped_at_its_rule_cpus_unless_the_user_set_them(monkeypatch):
    seen = []

    def run(command, cwd, env):
        seen.append({name: env.get(name) for name in dispatch.THREAD_VARIABLES})
        return type("Done", (), {"returncode": 0})

    monkeypatch.setattr(dispatch.subprocess, "run", run)
    for name in dispatch.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert dispatch.StageJob("/repo", "train@a", 2)() == "train@a"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    dispatch.StageJob("/repo", "train@a", 1)()
    assert seen == [
        {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
        {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "1"},
    ]


def test_the_status_while_jobs_run_leaves_out_their_stages_and_those_below(monkeypatch):
    dvc = FakeDVC({"train@a", "train@b", "evaluate@a", "evaluate@b", "study"})
    launcher = FakeLauncher(dvc, slow={"train@a"})
    outcome, _ = _drive(monkeypatch, dvc, launcher)
    assert launcher.submitted[:2] == [["train@a", "train@b"], ["evaluate@b"]]  # b goes on while a runs
    assert dvc.changed == set()
    assert sorted(outcome.done) == ["evaluate@a", "evaluate@b", "study", "train@a", "train@b"]


def test_a_failed_job_is_retried_then_stops_only_its_dependants(monkeypatch):
    dvc = FakeDVC({"train@a", "train@b", "evaluate@a", "evaluate@b", "study"})
    launcher = FakeLauncher(dvc, failing={"train@b"})
    outcome, lines = _drive(monkeypatch, dvc, launcher, retries=1)
    assert outcome.failed == {"train@b": "/logs/train@b.out"}
    assert outcome.left == ["evaluate@b", "study"]
    assert "evaluate@a" in outcome.done and "evaluate@b" not in outcome.done
    assert sum(batch.count("train@b") for batch in launcher.submitted) == 2  # once, and one retry
    assert "FAILED train@b: log /logs/train@b.out; rerun: dvc repro train@b" in lines
    assert "rerun: dvc repro train@b" in outcome.summary()


def test_a_restarted_driver_waits_for_jobs_it_did_not_submit(monkeypatch):
    dvc = FakeDVC({"train@a", "evaluate@a", "study"})
    polls = iter([{"train@a"}, {"train@a"}])  # a job from before the restart runs train@a, then ends

    def elsewhere():
        running = next(polls, None)
        if running is None:  # that job has ended (once)
            polls_done.append(True)
            if len(polls_done) == 1:
                dvc.succeed("train@a")
            return set()
        return running

    polls_done: list[bool] = []
    launcher = FakeLauncher(dvc)
    outcome, _ = _drive(monkeypatch, dvc, launcher, elsewhere)
    assert all("train@a" not in batch for batch in launcher.submitted)
    assert outcome.done == ["evaluate@a", "study"] and dvc.changed == set()


def test_the_local_executor_hands_each_job_its_own_gpus(tmp_path, monkeypatch):
    settings = dispatch.Settings(
        "local", 4, 0, 0.0, tmp_path, (_rule("train*", gpus=2), _rule("*")), gpus=(0, 1, 2)
    )
    launcher = dispatch.Launcher(tmp_path, settings)
    seen = []

    class Job:
        def done(self):
            return True

        def exception(self):
            return None

        paths = type("Paths", (), {"stdout": tmp_path / "log.out"})

    def submit(job):
        seen.append((job.stage, launcher.executor.parameters["visible_gpus"]))
        threads.append(job.threads)  # a CPU stage capped at its rule's cpus; a GPU stage left alone
        return Job()

    threads = []

    monkeypatch.setattr(launcher.executor, "submit", submit)
    assert launcher.submit(["train@a", "train@b", "study"]) == ["train@a", "study"]  # b waits for GPUs
    assert seen == [("train@a", (0, 1)), ("study", ())] and threads == [None, 1]
    assert set(launcher.ended()) == {"train@a", "study"}
    assert launcher.submit(["train@b"]) == ["train@b"] and seen[-1] == ("train@b", (2, 0))
    with pytest.raises(RuntimeError, match=r"train@c asks for 4 GPUs .* hands out 3"):
        dispatch.Launcher(tmp_path, replace(settings, resources=(_rule("*", gpus=4),))).submit(["train@c"])


def test_the_log_folder_is_made_private_and_one_others_can_write_is_refused(tmp_path):
    """The driver unpickles submitit's files from dispatch.log_dir: unpickling runs code."""
    settings = dispatch.Settings("local", 1, 0, 0.0, tmp_path / "logs" / "dispatch", (_rule("*"),))
    dispatch.Launcher(tmp_path, settings)
    assert (settings.log_dir.stat().st_mode & 0o777) == 0o700  # made by the driver: 0700
    for mode in (0o777, 0o770, 0o702):
        settings.log_dir.chmod(mode)
        with pytest.raises(DataError, match="writable by other users") as error:
            dispatch.Launcher(tmp_path, settings)
        assert error.value.path == str(settings.log_dir) and error.value.field == "dispatch.log_dir"
        assert f"chmod 700 {settings.log_dir}" in str(error.value)
        with pytest.raises(DataError, match="writable by other users"):
            dispatch.running_elsewhere(tmp_path, replace(settings, executor="slurm"))
    settings.log_dir.chmod(0o755)  # readable by others, writable by no one else: trusted
    dispatch.Launcher(tmp_path, settings)


def test_a_log_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(dispatch.os, "getuid", lambda: folder.stat().st_uid + 1)
    with pytest.raises(DataError, match=r"belongs to uid \d+, not to this user") as error:
        dispatch.private_log_dir(folder)
    assert error.value.path == str(folder)


# ---- for real: submitit's local executor, and a one-node Slurm cluster ----


@pytest.mark.slow
def test_dvc_status_of_the_stages_a_running_stage_does_not_lock_answers(tmp_path):
    import subprocess
    import time

    from tests.helpers import ENV, sh

    sh("git", "init", "-q", cwd=tmp_path)
    sh("dvc", "init", "-q", cwd=tmp_path)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  slow: {cmd: sleep 20 && echo a > a.txt, outs: [a.txt]}\n"
        "  below: {cmd: cat a.txt > b.txt, deps: [a.txt], outs: [b.txt]}\n"
        "  aside: {cmd: echo c > c.txt, outs: [c.txt]}\n"
    )
    job = subprocess.Popen(["dvc", "repro", "--single-item", "slow"], cwd=tmp_path, env=ENV)
    try:
        lock = tmp_path / ".dvc/tmp/rwlock"
        deadline = time.monotonic() + 60
        while not (lock.is_file() and "a.txt" in lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(RuntimeError, match="is busy"):
            dispatch.stale(tmp_path)  # what the driver must not ask while a job runs
        assert dispatch.stale(tmp_path, {"aside"}) == {"aside"}
        assert job.poll() is None  # asked while the stage ran
    finally:
        job.wait(timeout=120)


def _lock_hashes(root: Path) -> dict:
    import yaml

    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    return {
        name: [(o["path"], o["md5"]) for o in stage.get("outs", [])] for name, stage in lock["stages"].items()
    }


@pytest.mark.slow
def test_the_local_executor_runs_two_stages_at_once_to_the_serial_result(smoke_repros, tmp_path):
    from tests.helpers import copy_with_smoke_profile, dispatch_command, sh

    serial, (dispatched, output) = smoke_repros["first"][0], smoke_repros["second"]
    fresh = copy_with_smoke_profile(tmp_path / "study")
    plan = json.loads(sh(*dispatch_command("--dry-run"), cwd=fresh))
    assert plan["stages"] == plan["stale_or_below"] == len(_lock_hashes(serial))
    assert max(len(wave) for wave in plan["waves"]) >= 3  # trainings side by side
    assert f"dispatch: {len(_lock_hashes(serial))} jobs done, 0 failed" in output, output
    assert "up to date" in sh("dvc", "status", cwd=dispatched)
    assert _lock_hashes(dispatched) == _lock_hashes(serial)  # byte for byte what a serial repro writes
    submitted = [line.split()[1] for line in output.splitlines() if line.startswith("submitted")]
    assert len(submitted) == len(set(submitted)) == plan["stages"]  # each stage once, no retry
    running, most = 0, 0
    for line in output.splitlines():
        running += line.startswith("submitted") - line.startswith("done")
        most = max(most, running)
    assert most == 2  # two stages at once


SLURM_TARGETS = ("evaluate@s-curated-n1", "evaluate@m-curated-n1")  # and the 9 stages above them


@pytest.mark.slow
def test_slurm_runs_its_targets_and_a_cancelled_job_is_run_again(smoke_run, tmp_path):
    import os
    import subprocess
    import time

    from tests.helpers import ENV, copy_with_smoke_profile, dispatch_command, sh
    from tests.slurm_cluster import missing, slurm_cluster

    if missing():  # .ci/run and the README's test command install them (slurm-wlm, munge)
        assert not os.environ.get("CI"), f"Slurm is not installed: {missing()}"
        pytest.skip(f"Slurm is not installed: {missing()}")
    with slurm_cluster(tmp_path / "slurm") as cluster:
        # the warm process escapes a job's allocation, so Slurm jobs run stages cold unless told
        # otherwise: harmless on this one-node test cluster, and three times faster
        env = {**ENV, **cluster, "DOIT_STUDY_WARM": "1"}
        root = copy_with_smoke_profile(tmp_path / "study")
        driver = subprocess.Popen(
            dispatch_command(*SLURM_TARGETS, "--executor", "slurm", "--jobs", "2", "--retries", "0"),
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        cancelled = _cancel_a_training_midway(root, env, deadline=time.monotonic() + 900)
        output = driver.communicate(timeout=1800)[0]
        assert driver.returncode == 1 and f"FAILED {cancelled}" in output, output
        assert cancelled in sh("dvc", "status", cwd=root)  # DVC recorded nothing of it
        again = subprocess.run(
            dispatch_command(*SLURM_TARGETS, "--executor", "slurm", "--jobs", "2"),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "up to date" in sh("dvc", "status", *SLURM_TARGETS, cwd=root)
        done, serial = _lock_hashes(root), _lock_hashes(smoke_run)
        assert len(done) == 11 and "train@s-curated-n4" not in done  # the targets and what is above them
        assert done == {stage: serial[stage] for stage in done}  # byte for byte what a serial repro writes
        logs = list((root / ".dispatch").glob("*/*_log.out"))
        assert logs and any("Running stage" in log.read_text() for log in logs)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("doit-study").experiment_id])
        assert runs and all(run.data.tags.get("slurm_job_id") for run in runs)  # the job behind each run


def _cancel_a_training_midway(root: Path, env: dict, deadline: float) -> str:
    """scancel the first train job once DVC has started its stage; its stage's name."""
    import subprocess
    import time

    from submitit.core.utils import DelayedSubmission

    while time.monotonic() < deadline:
        ids = subprocess.run(
            ["squeue", "-r", "-h", "-n", dispatch.JOB_NAME, "-t", "RUNNING", "-o", "%i"],
            env=env,
            capture_output=True,
            text=True,
        ).stdout.split()
        for job_id in ids:
            folder = root / ".dispatch" / job_id
            pickled = folder / f"{job_id}_submitted.pkl"
            log = folder / f"{job_id}_0_log.out"
            if not pickled.is_file() or not log.is_file():
                continue
            stage = DelayedSubmission.load(pickled).function.stage
            if stage.startswith("train@") and "Running stage" in log.read_text(errors="replace"):
                subprocess.run(["scancel", job_id], env=env, check=True)
                return stage
        time.sleep(0.1)
    raise AssertionError("no train job started its stage in time")
