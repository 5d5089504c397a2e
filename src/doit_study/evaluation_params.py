"""Params of the stages after training, one frozen model per group: benchmark, evaluate, analysis,
mixes and dispatch (the groups up to training are in `config`, which re-exports these)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from doit_study.design_params import OpenAnswers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeldoutBenchmark(_Strict):
    size: int = Field(ge=1)  # test questions per subject
    dev: int = Field(ge=0)  # exemplars per subject for k-shot prompts


class AgievalParams(_Strict):
    path: str  # AGIEval's data folder (<task>.jsonl)
    tasks: list[str] = Field(min_length=1)
    dev: int = Field(ge=0)  # first questions of each task held back as k-shot exemplars


class HubSuite(_Strict):
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


class BenchmarkParams(_Strict):
    """Group `benchmark`: the multiple-choice suites scored by letter logits (Section 5)."""

    seed: int
    heldout: HeldoutBenchmark | None  # offline: built from the builtin character dictionary
    cmmlu: str | None  # a CMMLU copy in the GitHub layout (dev/ and test/ CSVs)
    agieval: AgievalParams | None  # AGIEval in the GitHub layout (data/v1/<task>.jsonl)
    hub: list[HubSuite]  # suites read with Hugging Face datasets (hub copies or local folders)


class GenerationBudget(_Strict):
    """The least number of new tokens per answer kind (exact-match items); raised from the data
    by `evaluate.gold_length_quantile`."""

    letter: int = Field(ge=1)
    multi_letter: int = Field(ge=1)
    true_false: int = Field(ge=1)
    fill: int = Field(ge=1)
    math: int = Field(ge=1)


class EvaluateParams(_Strict):
    """Group `evaluate`: scoring every checkpoint, selecting the best, benchmarks."""

    min_epoch: int = Field(ge=1)  # the best checkpoint is chosen at or after this epoch
    valid_per_ability: int | None = Field(ge=1)  # valid items scored per epoch; null: all
    generation_batch: int = Field(ge=1)
    nll_token_budget: int = Field(ge=16)  # padded tokens per perplexity batch
    benchmark_batch: int = Field(ge=1)
    shots: list[int]
    max_new_tokens: GenerationBudget
    # a kind's budget holds at least this share of its gold answers (null: max_new_tokens only)
    gold_length_quantile: float | None = Field(gt=0, le=1)
    choice_parse: Literal["text", "logits", "both"]  # letters and true/false (docs/evaluation.md)
    min_new_tokens: int = Field(ge=0)  # stop tokens are suppressed until an answer has this many tokens
    dtype: Literal["float32", "bfloat16", "float16"]  # of the weights while scoring
    device_map: Literal["auto"] | None  # auto: accelerate spreads a model over every GPU
    # chain items also scored with prompting.direct and prompting.cot appended (FLAN's two promptings)
    cot_prompting: bool
    open_answers: OpenAnswers | None  # free answers to open-ended test items, for the judge (LIMIT)


class BootstrapParams(_Strict):
    replicates: int = Field(ge=10)  # resamples of the test items
    seed: int
    level: float = Field(gt=0, lt=1)


class FeatureWeights(_Strict):
    """Complexity = w1 * L - w2 * sum(...); Transference = w * sum(...). The paper does not state
    them; docs/analysis.md gives the reasoning behind the defaults."""

    w1: float
    w2: float
    w: float


class Thresholds(_Strict):
    """On normalised sensitivities: below `resistant` on both factors, an ability is resistant;
    within `balance` of each other, responsive; otherwise biased towards the larger."""

    resistant: float = Field(ge=0, le=1)
    balance: float = Field(ge=0, le=1)


class AnalysisParams(_Strict):
    """Group `analysis`: sensitivities, features and their regression."""

    # which grid is fitted: doit (size x data volume of the uniform subsets of `pool`), flan (size x
    # task count x chain-of-thought share) or limit (data volume x open-ended share); docs/designs.md
    design: Literal["doit", "flan", "limit"]
    pool: str  # the construction pool whose size x volume grid is fitted
    thresholds: Thresholds
    bootstrap: BootstrapParams
    weights: FeatureWeights


class MixesParams(_Strict):
    """Group `mixes`: Reconstruct and Maximum derived from the analysis (the paper's Section 5.2)."""

    size: str  # the model size the mixes are trained at (the paper: 7b, its smallest)
    seed: int  # their training seed; the Baseline is the setting of this seed
    baseline: str  # the Baseline subset; the setting <size> x <baseline> is what the mixes are compared to
    floor: int = Field(ge=1)  # items per resistant ability (the paper: 64)
    plateau_tolerance: float = Field(ge=0)  # a curve has flattened once within this of its best
    maximum_per_ability: int | None = Field(ge=1)  # Maximum's cap per scaled ability; null: whole pool


class ResourceRule(_Strict):
    """What a stage's job asks the cluster for; the first rule whose pattern matches is used."""

    match: str = Field(min_length=1)  # fnmatch pattern over stage names: train@33b-*, evaluate*, *
    gpus: int = Field(ge=0)
    cpus: int = Field(ge=1)
    mem_gb: int = Field(ge=1)
    time_min: int = Field(ge=1)  # Slurm's time limit; a timed-out job is requeued and resumes
    partition: str | None


class DispatchParams(_Strict):
    """Group `dispatch`: `python -m doit_study dispatch` (no stage reads it: editing it reruns nothing)."""

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
