"""Validated params, one frozen model per params.yaml group. Unknown keys are errors.

The library never reads params.yaml itself: stages call `load_group` and pass plain values on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from doit_study.design_params import (
    CotParams,
    JudgeParams,
    PromptingParams,
    StyleParams,
    TaskCountParams,
)
from doit_study.evaluation_params import (
    AnalysisParams,
    BenchmarkParams,
    DispatchParams,
    EvaluateParams,
    MixesParams,
)
from doit_study.io import DataError, first_validation_error
from doit_study.schema import ABILITIES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_names(mapping: dict, pattern: str, what: str, kind: str) -> dict:
    """Names that become file and DVC stage names must match `pattern`."""
    for name in mapping:
        if not re.fullmatch(pattern, name):
            raise ValueError(f"{what}: {name!r} is not a valid {kind}")
    return mapping


def _check_abilities(mapping: dict[str, int], what: str) -> dict[str, int]:
    unknown = sorted(set(mapping) - set(ABILITIES))
    if unknown:
        raise ValueError(f"{what}: unknown ability {unknown[0]!r}; expected one of {', '.join(ABILITIES)}")
    return mapping


class DoitReleaseParams(_Strict):
    path: str | None  # a local copy in the release layout; wins over the hub
    repo_id: str
    revision: str | None  # a commit hash of the dataset repository (required for the hub)


class JsonlParams(_Strict):
    path: str | None


class DataParams(_Strict):
    """Group `data` (stage raw): where the material comes from."""

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


class AnnotateParams(_Strict):
    """Group `annotate`: item construction, filters and splits."""

    seed: int
    valid_size: int = Field(ge=1)
    test_size: int = Field(ge=1)
    ood_size: int = Field(ge=1)
    max_chars: int = Field(ge=100)  # whole dialogue length limit, in characters
    # Items kept per ability (train + valid + test), Table 1 of the paper.
    targets: dict[str, int]

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[str, int]) -> dict[str, int]:
        return _check_abilities(value, "targets")


class MixParams(_Strict):
    """A data mix: fixed sizes for some abilities; the others `full` or filled to `total`."""

    fixed: dict[str, int]
    others: Literal["full", "fill", "fixed"]
    others_n: int | None  # with others=fixed: n for every ability not in `fixed`
    total: int | None  # with others=fill: the mix's total size

    @field_validator("fixed")
    @classmethod
    def _fixed(cls, value: dict[str, int]) -> dict[str, int]:
        return _check_abilities(value, "fixed")

    @model_validator(mode="after")
    def _consistent(self) -> MixParams:
        if self.others == "fill" and self.total is None:
            raise ValueError("total: required when others is fill")
        if self.others == "fixed" and self.others_n is None and set(self.fixed) != set(ABILITIES):
            raise ValueError("others_n: required when others is fixed and not every ability is listed")
        return self


class ExpandParams(_Strict):
    """Group `expand`: the training pool and every subset the study trains on."""

    seed: int
    pool: dict[str, int]  # training pool per ability (Table 1 size minus valid and test)
    n_per_ability: list[int] = Field(min_length=1)
    single_ability_n: int = Field(ge=1)
    # subsets of the second construction pool (10 x n items in all), when the source has one
    synthetic_n_per_ability: list[int]
    mixes: dict[str, MixParams]
    task_counts: TaskCountParams  # FLAN (docs/designs.md)
    cot: CotParams  # FLAN
    style: StyleParams  # LIMIT

    @field_validator("pool")
    @classmethod
    def _pool(cls, value: dict[str, int]) -> dict[str, int]:
        return _check_abilities(value, "pool")

    @field_validator("n_per_ability")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if value != sorted(set(value)) or value[0] < 1:
            raise ValueError("n_per_ability: positive and strictly increasing")
        return value

    @field_validator("mixes")
    @classmethod
    def _mix_names(cls, value: dict[str, MixParams]) -> dict[str, MixParams]:
        return _check_names(
            value, r"[a-z0-9][a-z0-9_-]*", "mixes", "subset name (lowercase, digits, - and _)"
        )


class TokenizerParams(_Strict):
    """Group `tokenizer`: the offline foundation models' byte-level BPE."""

    vocab_size: int = Field(ge=300)


class TinyShape(_Strict):
    """A tiny LLaMA pretrained offline."""

    hidden_size: int = Field(ge=8)
    layers: int = Field(ge=1)
    heads: int = Field(ge=1)
    intermediate_size: int = Field(ge=8)


class PretrainedModel(_Strict):
    """A real causal LM: a local folder, or a hub id when local_files_only is false."""

    path: str
    trust_remote_code: bool  # runs code shipped with the model: only for models you trust
    local_files_only: bool  # no hub download unless you allow it


class OptimParams(_Strict):
    epochs: int = Field(ge=1)
    peak_lr: float = Field(gt=0)
    end_lr: float = Field(ge=0)
    global_batch: int = Field(ge=1)
    micro_batch: int = Field(ge=1)

    @model_validator(mode="after")
    def _batches(self) -> OptimParams:
        if self.global_batch % self.micro_batch:
            raise ValueError("global_batch must be a multiple of micro_batch")
        return self


class FoundationParams(_Strict):
    """Group `foundation`: one model per size, tiny ones pretrained under a token budget."""

    seed: int
    seq_len: int = Field(ge=16)
    token_budget: int = Field(ge=1)  # tokens of raw corpus each tiny model is pretrained on (per epoch)
    optim: OptimParams
    sizes: dict[str, TinyShape | PretrainedModel] = Field(min_length=1)


class SettingSpec(_Strict):
    size: str  # a key of foundation.sizes
    subset: str  # a subset name written by expand (data/subsets/<subset>.jsonl)
    # the training seed (initialisation of adapters, batch order): settings that differ only in it
    # are replicates of one point, and the analysis measures the noise between them
    seed: int


class LoraParams(_Strict):
    """Low-rank adapters (peft) instead of full fine-tuning, for real models."""

    r: int = Field(ge=1)
    alpha: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    target_modules: list[str] = Field(min_length=1)


class TrainParams(_Strict):
    """Group `train`: supervised fine-tuning, one DVC stage per setting (and seed)."""

    max_length: int = Field(ge=16)  # tokens; longer dialogues are trimmed (the paper: 2048)
    optim: OptimParams
    lora: LoraParams | None  # null: full fine-tuning, as in the paper
    # best: select on valid after every epoch and keep only the selected checkpoint (selection.py)
    keep_checkpoints: Literal["all", "best"]
    # fsdp: several processes shard the model instead of replicating it (sharding.py)
    sharding: Literal["none", "fsdp"]
    # what runs stages/train.py in dvc.yaml: python, or accelerate launch with its options
    launcher: str = Field(min_length=1)
    settings: dict[str, SettingSpec] = Field(min_length=1)

    @field_validator("settings")
    @classmethod
    def _names(cls, value: dict[str, SettingSpec]) -> dict[str, SettingSpec]:
        return _check_names(
            value, r"[a-z0-9][a-z0-9_.-]*", "settings", "setting name (lowercase, digits, . - _)"
        )

    @model_validator(mode="after")
    def _adapters_are_not_sharded(self) -> TrainParams:
        # LoRA trains a few adapter weights of a frozen model, which replicas (DDP) hold whole
        if self.lora is not None and self.sharding == "fsdp":
            raise ValueError("sharding: fsdp shards full fine-tuning; with lora set, use sharding: none")
        return self


class Params(_Strict):
    """A whole params file (params.yaml or a profile)."""

    data: DataParams
    annotate: AnnotateParams
    expand: ExpandParams
    tokenizer: TokenizerParams
    foundation: FoundationParams
    train: TrainParams
    benchmark: BenchmarkParams
    evaluate: EvaluateParams
    analysis: AnalysisParams
    mixes: MixesParams
    prompting: PromptingParams
    judge: JudgeParams
    dispatch: DispatchParams

    @model_validator(mode="after")
    def _groups_agree(self) -> Params:
        for name, spec in self.train.settings.items():
            if spec.size not in self.foundation.sizes:
                raise ValueError(f"train.settings.{name}.size: {spec.size!r} is not one of foundation.sizes")
        if self.evaluate.min_epoch > self.train.optim.epochs:
            raise ValueError("evaluate.min_epoch: larger than train.optim.epochs, so no checkpoint qualifies")
        if self.mixes.size not in self.foundation.sizes:
            raise ValueError(f"mixes.size: {self.mixes.size!r} is not one of foundation.sizes")
        planned = subset_names(self.expand)
        for name, spec in self.train.settings.items():
            if spec.subset not in planned:
                raise ValueError(f"train.settings.{name}.subset: expand writes no subset {spec.subset!r}")
        baseline = SettingSpec(size=self.mixes.size, subset=self.mixes.baseline, seed=self.mixes.seed)
        if baseline not in self.train.settings.values():
            raise ValueError(
                f"mixes.baseline: no setting in train.settings trains {baseline.subset} at {baseline.size}"
                f" with seed {baseline.seed} (mixes.seed)"
            )
        _designs_agree(self)
        points: dict[tuple[str, str, int], str] = {}
        for name, spec in self.train.settings.items():
            other = points.setdefault((spec.size, spec.subset, spec.seed), name)
            if other != name:
                raise ValueError(f"train.settings.{name}: the same size, subset and seed as {other}")
        return self


def _designs_agree(params: Params) -> None:
    """The FLAN and LIMIT params against the rest (docs/designs.md)."""
    unknown = [p for p in params.expand.style.open if p not in ABILITIES and p != "general"]
    if unknown:
        raise ValueError(f"expand.style.open: {unknown[0]!r} is neither an ability nor general")
    judge = params.judge
    for name in [*judge.settings, *([judge.compare_with] if judge.compare_with else [])]:
        if name not in params.train.settings:
            raise ValueError(f"judge: {name!r} is not a setting of train.settings")
    if judge.local_size is not None and judge.local_size not in params.foundation.sizes:
        raise ValueError(f"judge.local_size: {judge.local_size!r} is not one of foundation.sizes")
    if judge.settings and params.evaluate.open_answers is None:
        raise ValueError("evaluate.open_answers: required to judge settings (judge.settings)")
    if params.analysis.design == "flan" and not params.expand.task_counts.counts:
        raise ValueError("analysis.design: flan fits task-count subsets; expand.task_counts.counts is empty")
    if params.analysis.design == "limit" and not params.expand.style.ratios:
        raise ValueError("analysis.design: limit fits style subsets; expand.style.ratios is empty")


SUBSET_NAMES = {  # kind -> name pattern of the subsets expand writes
    "uniform": "curated-n{n}",
    "single_ability": "only-{ability}-n{n}",
    "mix": "mix-{name}",
    "synthetic": "synthetic-n{n}",
    "tasks": "tasks-k{k}",  # and -cot<percent> with expand.cot.ratios
    "style": "style-o{percent}-n{total}",
}


def subset_names(expand: ExpandParams) -> list[str]:
    """Every subset expand writes from these params (synthetic ones need a source with that pool)."""
    return [
        *(SUBSET_NAMES["uniform"].format(n=n) for n in expand.n_per_ability),
        *(SUBSET_NAMES["single_ability"].format(ability=a, n=expand.single_ability_n) for a in ABILITIES),
        *(SUBSET_NAMES["mix"].format(name=name) for name in sorted(expand.mixes)),
        *(SUBSET_NAMES["synthetic"].format(n=n) for n in expand.synthetic_n_per_ability),
        *(
            SUBSET_NAMES["tasks"].format(k=k) + ("" if r is None else f"-cot{round(100 * r)}")
            for k in expand.task_counts.counts
            for r in expand.cot.ratios or [None]
        ),
        *(
            SUBSET_NAMES["style"].format(percent=round(100 * r), total=t)
            for r in expand.style.ratios
            for t in expand.style.totals
        ),
    ]


# group name -> its model, in params-file order (one list to extend: the fields of Params)
GROUPS = {name: field.annotation for name, field in Params.model_fields.items()}


def _read_yaml(path: os.PathLike | str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(path, f"bytes are not UTF-8 ({error.reason})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DataError(
            path, f"malformed YAML: {getattr(error, 'problem', error)}", mark.line + 1 if mark else None
        ) from None
    if not isinstance(document, dict):
        raise DataError(path, "expected a mapping of params groups")
    return document


def _line_of(path: os.PathLike | str, dotted: str) -> int | None:
    """Best-effort line of a dotted key, so errors point into the file."""
    keys = [key for key in dotted.split(".") if not key.isdigit()]
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    start = 0
    for key in keys:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*:")
        for index in range(start, len(lines)):
            if pattern.match(lines[index]):
                start = index
                break
        else:
            return start + 1 if start else None
    return start + 1


def load_params(path: os.PathLike | str) -> Params:
    document = _read_yaml(path)
    try:
        return Params.model_validate(document)
    except ValidationError as error:
        field, message = first_validation_error(error)
        raise DataError(path, message, _line_of(path, field), field) from None


def load_group(path: os.PathLike | str, group: str):
    """One params group, after validating the whole file: every stage stops on a params error in
    any group and on the checks across groups, so a bad file fails in the first stage that runs,
    not stages later. (DVC reruns a stage only when its own group changes.)"""
    return getattr(load_params(path), group)
