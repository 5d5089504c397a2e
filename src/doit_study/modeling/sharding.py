"""Fully sharded data parallel training (PyTorch FSDP2, `fully_shard`) for models that do not fit
one device: `train.sharding: fsdp` under `accelerate launch` with several processes.

Every decoder block (the model's `_no_split_modules`, the Hugging Face convention) and then the
whole model become FSDP units, so each process holds 1/world of the parameters, gradients and
optimizer state. Checkpoints stay ordinary: the full model and optimizer state are gathered
(collectively, on CPU) and the main process writes the same safetensors folder as unsharded
training; resuming loads that full state into the shards. On CPU the processes use gloo.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def shard_model(model: nn.Module, mixed_precision: str = "no") -> nn.Module:
    """Shard `model` in place: each decoder block, then the root (which holds the embeddings).
    With `mixed_precision="bf16"` (accelerate launch --mixed_precision bf16) the blocks compute in
    bfloat16 while parameters, optimizer state and gradient reduction stay float32."""
    blocks = set(getattr(model, "_no_split_modules", None) or [])
    units = [module for module in model.modules() if type(module).__name__ in blocks]
    if not units:
        raise ValueError(f"{type(model).__name__} names no decoder blocks (_no_split_modules) to shard")
    policy = MixedPrecisionPolicy()
    if mixed_precision == "bf16":
        policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    elif mixed_precision != "no":
        raise ValueError(f"sharded training supports mixed precision bf16 or no, not {mixed_precision!r}")
    for unit in units:
        fully_shard(unit, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    return model


def full_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """(model, optimizer) state dicts gathered in full on CPU; every process must call this."""
    weights = get_model_state_dict(model, options=_FULL)
    seen, tied = set(), set()  # a tied output layer is saved once, as save_pretrained does
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in seen:
            tied.add(name)
        seen.add(id(parameter))
    weights = {name: tensor for name, tensor in weights.items() if name not in tied}
    return weights, get_optimizer_state_dict(model, optimizer, options=_FULL)


def load_full_weights(model: nn.Module, weights: dict) -> tuple[list[str], list[str]]:
    """Load full (unsharded) weights into a sharded model on every process; returns the (missing,
    unexpected) names, as `load_state_dict(strict=False)` does."""
    options = StateDictOptions(full_state_dict=True, strict=False)
    missing, unexpected = set_model_state_dict(model, weights, options=options)
    return list(missing), list(unexpected)


def load_full_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer, optim: dict) -> None:
    """Load a full optimizer state into the optimizer of a sharded model, on every process."""
    set_optimizer_state_dict(model, optimizer, optim, options=StateDictOptions(full_state_dict=True))
