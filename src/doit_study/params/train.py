"""Group `train` (stage train@<setting>): supervised fine-tuning, one DVC stage per setting."""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import Field, field_validator, model_validator

from doit_study.params.base import Group, Strict, check_names
from doit_study.params.optim import OptimParams


class SettingSpec(Strict):
    foundation: str  # a key of foundation.models (its size is the setting's model size)
    subset: str  # a subset name written by expand (data/subsets/<subset>.jsonl)
    # the fine-tuning seed (batch composition and order, adapters' initialisation); the replicates of
    # a grid point differ in foundation, this seed and the subset's data seed (docs/analysis.md)
    seed: int


class LoraParams(Strict):
    """Low-rank adapters (peft) instead of full fine-tuning, for real models."""

    r: int = Field(ge=1)
    alpha: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    target_modules: list[str] = Field(min_length=1)


class TrainParams(Group):
    """Group `train`: supervised fine-tuning, one DVC stage per setting (and seed)."""

    GROUP = "train"

    max_length: int = Field(ge=16)  # tokens; longer dialogues are trimmed (the paper: 2048)
    optim: OptimParams
    # true: each global batch's examples packed into rows of max_length tokens (no padding, attention
    # within each example); the same examples make each step, so results agree within rounding
    packing: bool
    lora: LoraParams | None  # null: full fine-tuning, as in the paper
    # best: select on valid after every epoch and keep only the selected checkpoint (selection.py)
    keep_checkpoints: Literal["all", "best"]
    # fsdp: several processes shard the model instead of replicating it (sharding.py)
    sharding: Literal["none", "fsdp"]
    # what runs stages/train.py in dvc.yaml: python, or accelerate launch with its options
    launcher: str = Field(min_length=1)
    settings: dict[str, SettingSpec] = Field(min_length=1)

    @field_validator("launcher")
    @classmethod
    def _plain_arguments(cls, value: str) -> str:
        return check_launcher(value)

    @field_validator("settings")
    @classmethod
    def _names(cls, value: dict[str, SettingSpec]) -> dict[str, SettingSpec]:
        return check_names(
            value, r"[a-z0-9][a-z0-9_.-]*", "settings", "setting name (lowercase, digits, . - _)"
        )

    @model_validator(mode="after")
    def _adapters_are_not_sharded(self) -> TrainParams:
        # LoRA trains a few adapter weights of a frozen model, which replicas (DDP) hold whole
        if self.lora is not None and self.sharding == "fsdp":
            raise ValueError("sharding: fsdp shards full fine-tuning; with lora set, use sharding: none")
        return self

    @model_validator(mode="after")
    def _one_setting_per_point(self) -> TrainParams:
        points: dict[tuple[str, str, int], str] = {}
        for name, spec in self.settings.items():
            other = points.setdefault((spec.foundation, spec.subset, spec.seed), name)
            if other != name:
                raise ValueError(f"settings.{name}: the same foundation, subset and seed as {other}")
        return self


# DVC runs a stage's cmd through a shell, and the launcher is pasted into it (dvc.yaml: ${train.launcher}
# stages/train.py ...): a launcher must be plain arguments, so that what a params file says is what
# runs, nothing chained (;, &&, |), redirected (>, <), substituted ($, `) or expanded (*, ~, {}).
# Without these (quotes are allowed) the shell splits the launcher into the words shlex gives.
SHELL_CHARACTERS = set(";&|<>$`\\\n\r(){}[]*?!~#^")


def check_launcher(value: str) -> str:
    """`launcher` as plain arguments: shlex splits it, and no shell metacharacter is in it."""
    found = sorted(set(value) & SHELL_CHARACTERS)
    if found:
        shown = " ".join(repr(c) for c in found)
        raise ValueError(
            f"launcher: shell metacharacters {shown} are not allowed; give the program and its "
            "arguments only (e.g. accelerate launch --num_processes 8)"
        )
    try:
        arguments = shlex.split(value)
    except ValueError as error:  # an unclosed quote
        raise ValueError(f"launcher: {error}; give the program and its arguments only") from None
    if not arguments:
        raise ValueError("launcher: empty; give the program that runs stages/train.py")
    return value
