"""The dispatch driver: which stages are ready, waves, resources, retries and failures on a DAG
with a fake DVC and job system; then for real: the smoke study through submitit's local executor
(two jobs at once) and through a one-node Slurm cluster, each ending with the dvc.lock of a serial
`dvc repro`."""

from __future__ import annotations

from pathlib import Path

import pytest

from doit_study import dispatch
from doit_study.config import ResourceRule

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

    def __init__(self, dvc: FakeDVC, failing=(), capacity: int = 2):
        self.dvc, self.failing, self.capacity = dvc, set(failing), capacity
        self.jobs, self.submitted = {}, []

    def submit(self, stages):
        taken = stages[: self.capacity - len(self.jobs)]
        self.jobs |= dict.fromkeys(taken, True)
        self.submitted.append(taken)
        return taken

    def ended(self):
        ended = {}
        for stage in list(self.jobs):
            ok = stage not in self.failing
            if ok:
                self.dvc.succeed(stage)
            ended[stage] = (ok, f"/logs/{stage}.out")
            del self.jobs[stage]
        return ended


def _settings(retries: int = 1) -> dispatch.Settings:
    return dispatch.Settings("local", 2, retries, 0.0, Path("/logs"), (_rule("*"),))


def _drive(monkeypatch, dvc: FakeDVC, launcher: FakeLauncher, elsewhere=lambda: set(), retries: int = 1):
    monkeypatch.setattr(dispatch, "dag", lambda root: GRAPH)
    monkeypatch.setattr(dispatch, "stale", lambda root: set(dvc.changed))
    monkeypatch.setattr(dispatch, "running_elsewhere", lambda root, settings: elsewhere())
    lines: list[str] = []
    outcome = dispatch.dispatch(Path("/repo"), _settings(retries), lines.append, launcher)
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
