"""`python -m doit_study dispatch`: every stale stage of the DAG run as a job, on a Slurm cluster or
as local processes (submitit), each as soon as the stages it depends on are up to date, until
nothing is stale.

Each job runs `dvc --wait-for-lock repro --single-item <stage>`: DVC decides whether the stage is
stale, runs it, and records it in dvc.lock under its repository lock, so DVC stays the only record
of what is done. The driver keeps nothing of its own: on every pass it asks DVC what is stale and
the job system what is running (Slurm's queue, whose jobs submitit describes in the log folder; on
one machine, DVC's lock of the outputs being written), so it can be killed and started again at any
moment. A failed job is submitted again `retries` times; after that its stage and every stage below
it are left, and the driver names the job's log and the command to rerun it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from doit_study.core.files import DataError

JOB_NAME = "doit-dispatch"  # every job's Slurm name: squeue -n finds them after a restart
DVC = (sys.executable, "-m", "dvc")  # the DVC of this environment, whatever PATH says
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # torch's intra-op threads follow OMP's


@dataclass(frozen=True)
class Resources:
    gpus: int
    cpus: int
    mem_gb: int
    time_min: int
    partition: str | None


def resources_for(stage: str, rules: Iterable) -> Resources:
    """The first rule (dispatch.resources) whose `match` pattern (fnmatch) names the stage."""
    for rule in rules:
        if fnmatch.fnmatchcase(stage, rule.match):
            return Resources(rule.gpus, rule.cpus, rule.mem_gb, rule.time_min, rule.partition)
    raise ValueError(f"dispatch.resources: no rule matches stage {stage!r} (end with match: '*')")


# ---- the DAG and what DVC says of it ----


def dag(root: Path) -> dict[str, set[str]]:
    """Stage -> the stages whose outputs it reads (DVC's graph of dvc.yaml)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        return {stage.addressing: {up.addressing for up in graph.successors(stage)} for stage in graph}


class UnknownStage(ValueError):
    """A target that names no stage of dvc.yaml."""


def restricted(graph: Mapping[str, set[str]], targets: Iterable[str]) -> dict[str, set[str]]:
    """The part of the graph `dvc repro TARGETS` would run: the targets and every stage above them
    (all of it without targets)."""
    targets = list(targets)
    if not targets:
        return dict(graph)
    if unknown := sorted(set(targets) - set(graph)):
        raise UnknownStage(f"no such stage in dvc.yaml: {', '.join(unknown)}")
    keep = set(targets).union(*(upstream(graph, target) for target in targets))
    return {stage: graph[stage] & keep for stage in keep}


def stale(root: Path, only: set[str] | None = None) -> set[str]:
    """The stages `dvc status` reports as changed: all, or those in `only`. A running stage holds
    DVC's lock on its outputs, and a status that reads them fails ("is busy"): leave out the
    running stages and every stage below them."""
    if only is not None and not only:
        return set()
    targets = sorted(only) if only is not None else []
    result = subprocess.run(
        [*DVC, "--wait-for-lock", "status", "--json", *targets], cwd=root, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"dvc status failed in {root}:\n{result.stderr}")
    return set(json.loads(result.stdout or "{}"))


def upstream(graph: Mapping[str, set[str]], stage: str) -> set[str]:
    """Every stage above `stage`."""
    seen, todo = set(), list(graph[stage])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph[name]
    return seen


def downstream(graph: Mapping[str, set[str]], stages: set[str]) -> set[str]:
    """Every stage below one of `stages`."""
    return {s for s in graph if upstream(graph, s) & stages}


def ready(graph: Mapping[str, set[str]], changed: set[str], busy: set[str]) -> list[str]:
    """Stale stages that are not busy (running or failed) and have nothing stale or busy above
    them, in a fixed order."""
    waiting = changed | busy
    return sorted(s for s in changed - busy if not upstream(graph, s) & waiting)


def waves(graph: Mapping[str, set[str]], changed: set[str]) -> list[list[str]]:
    """The waves of a dispatch from here: every stale stage and every stage below one (its inputs
    will change), by depth among them."""
    affected = {s for s in graph if s in changed} | downstream(graph, changed)
    depth: dict[str, int] = {}
    for stage in sorted(affected, key=lambda s: len(upstream(graph, s))):
        depth[stage] = 1 + max((depth[up] for up in graph[stage] if up in affected), default=-1)
    by_depth: dict[int, list[str]] = {}
    for stage in sorted(affected):
        by_depth.setdefault(depth[stage], []).append(stage)
    return [by_depth[k] for k in sorted(by_depth)]


# ---- jobs ----


class StageJob:
    """One stage through DVC; requeued by submitit after a Slurm time-out or preemption (a train
    stage resumes from its last complete epoch)."""

    def __init__(self, root: str, stage: str, threads: int | None = None):
        self.root, self.stage, self.threads = root, stage, threads

    def __call__(self) -> str:
        env = dict(os.environ)
        # a job's threads capped (set by the user: theirs is kept): stages side by side on one
        # machine then share its cores instead of each starting a thread per core
        threads = getattr(self, "threads", None)  # None in a job pickled by an older driver
        if threads:
            for name in THREAD_VARIABLES:
                env.setdefault(name, str(threads))
        if "SLURM_JOB_ID" in env:  # recorded in the stage's MLflow run (tracking.SettingRun)
            array = env.get("SLURM_ARRAY_JOB_ID")
            job = f"{array}_{env['SLURM_ARRAY_TASK_ID']}" if array else env["SLURM_JOB_ID"]
            env["DOIT_STUDY_SLURM_JOB"] = job
            # a warm process (doit_study.pipeline.warm) would run the stage outside the job's allocation
            env.setdefault("DOIT_STUDY_WARM", "0")
        command = [*DVC, "--wait-for-lock", "repro", "--single-item", self.stage]
        code = subprocess.run(command, cwd=self.root, env=env).returncode
        if code:
            raise RuntimeError(f"{' '.join(command)} exited with {code}")
        return self.stage

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(
            StageJob(self.root, self.stage, getattr(self, "threads", None))
        )


@dataclass(frozen=True)
class Settings:
    executor: str  # slurm | local
    jobs: int  # jobs at once
    retries: int  # a failed job is submitted again this many times
    poll_seconds: float
    log_dir: Path  # one folder per job: submission, pickled job, stdout/stderr
    resources: tuple
    gpus: tuple[int, ...] = ()  # local: the GPUs, each job given its own


def private_log_dir(folder: Path) -> Path:
    """The log folder, made 0700 when it does not exist. The driver unpickles submitit's files from it
    (submissions, results), and unpickling runs code: a folder another user can write to, or does
    not belong to this user, is refused before anything in it is read."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid():
        problem = f"belongs to uid {info.st_uid}, not to this user (uid {os.getuid()})"
        fix = "point dispatch.log_dir at a folder of your own"
    elif info.st_mode & 0o022:
        problem = f"is writable by other users (mode {info.st_mode & 0o777:o})"
        fix = f"run `chmod 700 {folder}`"
    else:
        return folder
    message = f"{problem}, and the driver unpickles the files in it: {fix}"
    raise DataError(folder, message, None, "dispatch.log_dir")


class Launcher:
    """submitit under the driver: on Slurm one job array per wave and resource shape, locally one
    process per stage with its own GPUs."""

    def __init__(self, root: Path, settings: Settings):
        import submitit

        if settings.executor == "slurm" and not shutil.which("sbatch"):
            raise RuntimeError("dispatch.executor is slurm, but sbatch is not on PATH")
        self.root, self.settings = root, settings
        folder = private_log_dir(settings.log_dir) / "%j"
        if settings.executor == "slurm":
            self.executor = submitit.AutoExecutor(
                folder=folder, cluster="slurm", slurm_max_num_timeout=settings.retries
            )
        else:  # the local executor itself: AutoExecutor does not pass a job its own GPUs
            self.executor = submitit.LocalExecutor(folder=folder, max_num_timeout=settings.retries)
        self.jobs: dict[str, object] = {}  # stage -> submitit job
        self.free_gpus, self.gpus_of = list(settings.gpus), {}

    def submit(self, stages: list[str]) -> list[str]:
        """Submit what fits now; the stages submitted."""
        shapes: dict[Resources, list[str]] = {}
        for stage in stages[: self.settings.jobs - len(self.jobs)]:
            shapes.setdefault(resources_for(stage, self.settings.resources), []).append(stage)
        submitted = []
        for shape, group in shapes.items():
            if self.settings.executor == "slurm":
                self.executor.update_parameters(**_slurm_parameters(shape, self.settings), name=JOB_NAME)
                with self.executor.batch():  # one job array
                    # threads left as they are: the job has its own allocation, and a launcher of
                    # several processes (accelerate) sets their threads itself
                    jobs = [self.executor.submit(StageJob(str(self.root), stage)) for stage in group]
                self.jobs |= dict(zip(group, jobs, strict=True))
            else:  # one process per stage, each with its own GPUs
                group = [s for s in group if self._take_gpus(s, shape.gpus)]
                for stage in group:
                    gpus = tuple(self.gpus_of[stage])
                    self.executor.update_parameters(
                        timeout_min=shape.time_min, gpus_per_node=len(gpus), visible_gpus=gpus
                    )
                    # a CPU stage's threads capped at its rule's cpus; a GPU stage (perhaps several
                    # processes under accelerate, which sets their threads) is left as it is
                    threads = shape.cpus if not shape.gpus else None
                    self.jobs[stage] = self.executor.submit(StageJob(str(self.root), stage, threads))
            submitted += group
        return submitted

    def _take_gpus(self, stage: str, count: int) -> bool:
        if count > len(self.settings.gpus):  # submitit hides every GPU not handed to a job
            raise RuntimeError(
                f"{stage} asks for {count} GPUs (dispatch.resources), "
                f"but dispatch.gpus hands out {len(self.settings.gpus)}: list the machine's GPU ids there"
            )
        if count > len(self.free_gpus):
            return False  # waits until a job gives its GPUs back
        self.gpus_of[stage], self.free_gpus = self.free_gpus[:count], self.free_gpus[count:]
        return True

    def ended(self) -> dict[str, tuple[bool, str]]:
        """Stages whose job has ended since the last call: (succeeded, its log)."""
        ended = {}
        for stage, job in list(self.jobs.items()):
            if job.done():
                ended[stage] = (job.exception() is None, str(job.paths.stdout))
                del self.jobs[stage]
                self.free_gpus += self.gpus_of.pop(stage, [])
        return ended


def _slurm_parameters(shape: Resources, settings: Settings) -> dict:
    parameters = {
        "timeout_min": shape.time_min,
        "cpus_per_task": shape.cpus,
        "mem_gb": shape.mem_gb,
        "gpus_per_node": shape.gpus,
        "slurm_array_parallelism": settings.jobs,
    }
    if shape.partition:
        parameters["slurm_partition"] = shape.partition
    return parameters


def running_elsewhere(root: Path, settings: Settings) -> set[str]:
    """Stages that jobs this driver did not submit are running: on Slurm, the queued and running
    jobs named JOB_NAME (their stage read from submitit's folder); on one machine, outputs a live
    process is writing, from DVC's lock."""
    if settings.executor == "slurm":
        from submitit.core.utils import DelayedSubmission

        log_dir = private_log_dir(settings.log_dir)  # before any of its pickles is read
        states = "PENDING,RUNNING,CONFIGURING,REQUEUED,RESIZING,SUSPENDED"
        ids = subprocess.run(
            ["squeue", "--me", "-r", "-h", "-n", JOB_NAME, "-t", states, "-o", "%i"],
            capture_output=True,
            text=True,
        ).stdout.split()
        stages = set()
        for job_id in ids:
            pickled = log_dir / job_id / f"{job_id}_submitted.pkl"
            if pickled.is_file():
                job = DelayedSubmission.load(pickled).function
                if isinstance(job, StageJob) and Path(job.root) == root:
                    stages.add(job.stage)
        return stages
    import psutil

    lock = root / ".dvc/tmp/rwlock"
    writers = json.loads(lock.read_text() or "{}").get("write", {}).values() if lock.is_file() else []
    return {
        info["cmd"].split()[-1]
        for info in writers
        if "--single-item" in info["cmd"] and psutil.pid_exists(int(info["pid"]))
    }


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # stage -> its job's log
    left: list[str] = field(default_factory=list)  # stale, below a failure

    def summary(self) -> str:
        lines = [f"dispatch: {len(self.done)} jobs done, {len(self.failed)} failed"]
        lines += [f"  failed {s}: log {log}; rerun: dvc repro {s}" for s, log in sorted(self.failed.items())]
        if self.left:
            lines.append(f"  not run, below a failed stage: {', '.join(self.left)}")
        return "\n".join(lines)


def dispatch(
    root: Path,
    settings: Settings,
    say: Callable[[str], None] = print,
    launcher: Launcher | None = None,
    targets: Iterable[str] = (),
) -> Outcome:
    """Run every stale stage (of `targets` and the stages above them, when given) as a job until
    nothing is stale but stages below a failure."""
    targets = tuple(targets)
    graph, outcome, attempts = restricted(dag(root), targets), Outcome(), {}
    launcher = launcher or Launcher(root, settings)
    whole = not targets  # a part of the graph: `dvc status` asked of its stages only
    while True:
        # what runs first, then what is stale: a job ending in between then shows as up to date
        others = (running_elsewhere(root, settings) & set(graph)) - set(launcher.jobs)  # of these stages
        running, failed = set(launcher.jobs) | others, set(outcome.failed)
        locked = running | downstream(graph, running)
        changed = stale(root, set(graph) - locked if running or not whole else None)
        below = changed & downstream(graph, failed)
        if not (changed - failed - below) and not running:
            outcome.left = sorted(below - failed)
            return outcome
        candidates = ready(graph, changed, running | failed)
        for stage in [s for s in candidates if attempts.get(s, 0) > settings.retries]:
            outcome.failed[stage] = "(its jobs ended, but DVC still reports it as changed)"
        for stage in launcher.submit([s for s in candidates if s not in outcome.failed]):
            attempts[stage] = attempts.get(stage, 0) + 1
            say(f"submitted {stage} (attempt {attempts[stage]})")
        ended = _wait(launcher, settings.poll_seconds)
        for stage, (ok, log) in sorted(ended.items()):
            if ok:
                outcome.done.append(stage)
                say(f"done {stage}")
            elif attempts[stage] <= settings.retries:
                say(f"failed {stage} (log {log}); submitting it again")
            else:
                outcome.failed[stage] = log
                say(f"FAILED {stage}: log {log}; rerun: dvc repro {stage}")


def _wait(launcher: Launcher, poll: float) -> dict[str, tuple[bool, str]]:
    """Until one of the launcher's jobs ends; one poll interval when it has none (others' jobs)."""
    while not (ended := launcher.ended()):
        time.sleep(poll)
        if not launcher.jobs:
            break
    return ended


def dry_run(root: Path, targets: Iterable[str] = ()) -> dict:
    """What a dispatch would run from here, wave by wave (nothing is submitted)."""
    graph = restricted(dag(root), targets)
    plan = waves(graph, stale(root, set(graph) if targets else None))
    return {"stages": len(graph), "stale_or_below": sum(map(len, plan)), "waves": plan}
