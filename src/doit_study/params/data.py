"""Group `data` (stage raw): where the material comes from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from doit_study.params.base import Group, Strict


class DoitReleaseParams(Strict):
    path: str | None  # a local copy in the release layout; wins over the hub
    repo_id: str
    revision: str | None  # a commit hash of the dataset repository (required for the hub)


class JsonlParams(Strict):
    path: str | None


class DataParams(Group):
    """Group `data` (stage raw): where the material comes from."""

    GROUP = "data"

    source: Literal["builtin", "doit", "jsonl"]
    seed: int  # seeds the instantiation of chalkbase maths templates
    math_instances: int = Field(ge=0)  # chalkbase problems to instantiate (before dedup)
    doit: DoitReleaseParams
    jsonl: JsonlParams

    @model_validator(mode="after")
    def _source_location(self) -> DataParams:
        if self.source == "doit" and not self.doit.path and not self.doit.revision:
            raise ValueError("doit: set doit.path (a local copy) or doit.revision (a pinned hub commit)")
        if self.source == "jsonl" and not self.jsonl.path:
            raise ValueError("jsonl.path: required when source is jsonl")
        return self
