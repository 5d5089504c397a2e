"""Group `foundation` (stage foundation@<size>): one model per size, tiny ones pretrained under a
token budget, real ones read from a folder."""

from __future__ import annotations

from pydantic import Field

from doit_study.params.base import Group, Strict
from doit_study.params.optim import OptimParams


class TinyShape(Strict):
    """A tiny LLaMA pretrained offline."""

    hidden_size: int = Field(ge=8)
    layers: int = Field(ge=1)
    heads: int = Field(ge=1)
    intermediate_size: int = Field(ge=8)


class PretrainedModel(Strict):
    """A real causal LM: a local folder, or a hub id when local_files_only is false."""

    path: str
    trust_remote_code: bool  # runs code shipped with the model: only for models you trust
    local_files_only: bool  # no hub download unless you allow it


class FoundationParams(Group):
    """Group `foundation`: one model per size, tiny ones pretrained under a token budget."""

    GROUP = "foundation"

    seed: int
    seq_len: int = Field(ge=16)
    token_budget: int = Field(ge=1)  # tokens of raw corpus each tiny model is pretrained on (per epoch)
    optim: OptimParams
    sizes: dict[str, TinyShape | PretrainedModel] = Field(min_length=1)
