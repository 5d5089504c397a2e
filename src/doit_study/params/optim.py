"""The optimiser settings the foundation and train groups share."""

from __future__ import annotations

from pydantic import Field, model_validator

from doit_study.params.base import Strict


class OptimParams(Strict):
    epochs: int = Field(ge=1)
    peak_lr: float = Field(gt=0)
    end_lr: float = Field(ge=0)
    global_batch: int = Field(ge=1)
    micro_batch: int = Field(ge=1)
    # micro-batches sorted by length together (less padding); 1: every batch a random draw, so
    # replicate seeds train on different batches, not the same batches in another order
    length_group: int = Field(ge=1)

    @model_validator(mode="after")
    def _batches(self) -> OptimParams:
        if self.global_batch % self.micro_batch:
            raise ValueError("global_batch must be a multiple of micro_batch")
        if self.end_lr > self.peak_lr:
            raise ValueError(f"end_lr {self.end_lr} is above peak_lr {self.peak_lr}: the schedule decays")
        return self
