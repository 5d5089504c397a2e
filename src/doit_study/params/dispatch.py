"""Group `dispatch`: `python -m doit_study dispatch` (no stage reads it: editing it reruns nothing)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from doit_study.params.base import Group, Strict


class ResourceRule(Strict):
    """What a stage's job asks the cluster for; the first rule whose pattern matches is used."""

    match: str = Field(min_length=1)  # fnmatch pattern over stage names: train@33b-*, evaluate*, *
    gpus: int = Field(ge=0)
    cpus: int = Field(ge=1)
    mem_gb: int = Field(ge=1)
    time_min: int = Field(ge=1)  # Slurm's time limit; a timed-out job is requeued and resumes
    partition: str | None


class DispatchParams(Group):
    """Group `dispatch`: `python -m doit_study dispatch` (no stage reads it: editing it reruns nothing)."""

    GROUP = "dispatch"

    executor: Literal["local", "slurm"]
    jobs: int = Field(ge=1)  # jobs running at once (Slurm: also the job arrays' parallelism)
    retries: int = Field(ge=0)  # a failed job is submitted again; a timed-out one requeued
    poll_seconds: float = Field(gt=0)
    log_dir: str  # one folder per job (git-ignored)
    gpus: list[int]  # local executor: the GPUs handed out, each job its own; []: none
    resources: list[ResourceRule] = Field(min_length=1)

    @field_validator("resources")
    @classmethod
    def _catch_all(cls, rules: list[ResourceRule]) -> list[ResourceRule]:
        if rules[-1].match != "*":
            raise ValueError("resources: the last rule must match '*' so that every stage has resources")
        return rules
