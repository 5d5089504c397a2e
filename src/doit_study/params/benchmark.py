"""Group `benchmark` (stage benchmark): the multiple-choice suites scored by letter logits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from doit_study.params.base import Group, Strict


class HeldoutBenchmark(Strict):
    size: int = Field(ge=1)  # test questions per subject
    dev: int = Field(ge=0)  # exemplars per subject for k-shot prompts


class AgievalParams(Strict):
    path: str  # AGIEval's data folder (<task>.jsonl)
    tasks: list[str] = Field(min_length=1)
    dev: int = Field(ge=0)  # first questions of each task held back as k-shot exemplars


class HubSuite(Strict):
    """A multiple-choice suite read with Hugging Face `datasets`, as lm-evaluation-harness reads it:
    a hub dataset at a pinned commit, or a local folder in the same layout (docs/evaluation.md)."""

    suite: str  # its name in data/benchmarks and in the metrics (benchmark.<suite>.<k>shot.acc)
    layout: Literal["ceval", "cmmlu", "agieval"]  # which columns hold the question and answer
    path: str  # hub id (ceval/ceval-exam; "{subject}" for one repository per task) or a local folder
    revision: str | None  # the 40-hex commit for a hub id; null for a local folder
    subjects: list[str] = Field(min_length=1)  # configs, or the {subject} of the path
    test_split: str  # the scored split (C-Eval: val, its test labels are not published)
    dev_split: str | None  # exemplars for k-shot prompts; null: the first `dev` rows of test_split
    dev: int = Field(ge=0)  # exemplars per subject

    @model_validator(mode="after")
    def _pinned(self) -> HubSuite:
        pinned = self.revision and re.fullmatch(r"[0-9a-f]{40}", self.revision)
        local = all(Path(self.path.replace("{subject}", s)).is_dir() for s in self.subjects)
        if not local and not pinned:
            raise ValueError("revision: a hub dataset is read at a pinned 40-hex commit")
        return self


class BenchmarkParams(Group):
    """Group `benchmark`: the multiple-choice suites scored by letter logits (Section 5)."""

    GROUP = "benchmark"

    seed: int
    heldout: HeldoutBenchmark | None  # offline: built from the builtin character dictionary
    cmmlu: str | None  # a CMMLU copy in the GitHub layout (dev/ and test/ CSVs)
    agieval: AgievalParams | None  # AGIEval in the GitHub layout (data/v1/<task>.jsonl)
    hub: list[HubSuite]  # suites read with Hugging Face datasets (hub copies or local folders)
