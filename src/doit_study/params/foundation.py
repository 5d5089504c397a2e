"""Group `foundation` (stage foundation@<model>): the model sizes, and the foundation models trained
or read at each size. Several foundations of one size are its replicates: tiny ones pretrained from
different seeds, real ones different releases (the analysis's unit of replication,
docs/analysis.md)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from doit_study.params.base import Group, Strict, check_names
from doit_study.params.optim import OptimParams


class TinyShape(Strict):
    """A tiny LLaMA pretrained offline."""

    hidden_size: int = Field(ge=8)
    layers: int = Field(ge=1)
    heads: int = Field(ge=1)
    intermediate_size: int = Field(ge=8)


class PretrainedModel(Strict):
    """A real causal LM: a local folder (or a hub id when local_files_only is false), or a GGUF file
    (`gguf`: a path, or `package:file` inside an installed package), converted once to safetensors."""

    path: str | None
    gguf: str | None
    trust_remote_code: bool  # runs code shipped with the model: only for models you trust
    local_files_only: bool  # no hub download unless you allow it

    @model_validator(mode="after")
    def _one_source(self) -> PretrainedModel:
        if (self.path is None) == (self.gguf is None):
            raise ValueError("path: give exactly one of path (a model folder) and gguf (a GGUF file)")
        return self


class FoundationModel(Strict):
    """One foundation model (stage foundation@<name>, folder models/base/<name>)."""

    size: str  # a key of `sizes`
    seed: int  # a tiny model's pretraining seed; a real model's folder is its draw (use 0)


class FoundationParams(Group):
    """Group `foundation`: the sizes, and every foundation model of each."""

    GROUP = "foundation"

    seq_len: int = Field(ge=16)
    token_budget: int = Field(ge=1)  # tokens of raw corpus each tiny model is pretrained on (per epoch)
    optim: OptimParams
    sizes: dict[str, TinyShape | PretrainedModel] = Field(min_length=1)
    models: dict[str, FoundationModel] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _names(cls, value: dict[str, FoundationModel]) -> dict[str, FoundationModel]:
        return check_names(value, r"[a-z0-9][a-z0-9_.-]*", "models", "model name (lowercase, digits, . - _)")

    @model_validator(mode="after")
    def _models_of_sizes(self) -> FoundationParams:
        seen: dict[tuple[str, int], str] = {}
        for name, model in self.models.items():
            if model.size not in self.sizes:
                raise ValueError(f"models.{name}.size: {model.size!r} is not one of sizes")
            if isinstance(self.sizes[model.size], PretrainedModel):
                key = (model.size, 0)  # one folder is one model: another seed would be the same model
            else:
                key = (model.size, model.seed)
            other = seen.setdefault(key, name)
            if other != name:
                raise ValueError(f"models.{name}: the same model as {other} (a folder size has one model)")
        return self
