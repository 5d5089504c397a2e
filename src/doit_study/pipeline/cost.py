"""The compute a profile needs, from its params alone: items per training stage (the subsets that
`expand` would write, from the pool sizes), tokens (items x tokens per item, measured on a subset
file or given), training FLOPs (6 x parameters x tokens x epochs, the standard estimate for a
dense transformer) and GPU-hours at a stated throughput."""

from __future__ import annotations

import json
import re
from pathlib import Path

from doit_study.core.schema import split_data_seed
from doit_study.items.subsets import plan_subsets
from doit_study.params.expand import subset_names
from doit_study.params.foundation import PretrainedModel, TinyShape
from doit_study.params.study import StudyParams

SIZE_NAME = re.compile(r"^(\d+(?:\.\d+)?)([bm])$", re.IGNORECASE)


def llama_parameters(shape: TinyShape, vocab_size: int, tied: bool) -> int:
    """A LLaMA block: attention 4·h², gated MLP 3·h·i, two norms; the embeddings (input and
    output, or one when tied, as in the tiny models) and the final norm."""
    h, i = shape.hidden_size, shape.intermediate_size
    return shape.layers * (4 * h * h + 3 * h * i + 2 * h) + (1 if tied else 2) * vocab_size * h + h


def pretrained_parameters(name: str, spec: PretrainedModel) -> int:
    """From the model's config.json when the folder is there, else from a size name like `7b` (a
    GGUF file is read by the foundation stage, not here)."""
    config = Path(spec.path) / "config.json" if spec.path else None
    if config and config.is_file():
        c = json.loads(config.read_text(encoding="utf-8"))
        shape = TinyShape(
            hidden_size=c["hidden_size"],
            layers=c["num_hidden_layers"],
            heads=c["num_attention_heads"],
            intermediate_size=c["intermediate_size"],
        )
        return llama_parameters(shape, c["vocab_size"], c.get("tie_word_embeddings", False))
    found = SIZE_NAME.match(name)
    if not found:
        raise ValueError(
            f"foundation.sizes.{name}: no config.json at {spec.path or spec.gguf} and no size in the name"
        )
    return int(float(found.group(1)) * (1e9 if found.group(2).lower() == "b" else 1e6))


def task_count_items(expand) -> dict[str, int]:
    """Items of every task-count subset, from the params alone (how many items a task has is known
    only from the data): k x per_task, or the fixed total."""
    counts = expand.task_counts
    names = [n for n in subset_names(expand) if n.startswith("tasks-k")]
    return {n: counts.total or int(n.split("-")[1][1:]) * counts.per_task for n in names}


def training_cost(params: StudyParams, tokens_per_item: float, gpu_tflops: float, utilisation: float) -> dict:
    """Training FLOPs and GPU-hours per setting and in all (the derived mixes counted at their
    largest possible size: Reconstruct at the Baseline's total, Maximum at every pool)."""
    pools = dict(params.expand.pool)
    synthetic = max(params.expand.synthetic_n_per_ability, default=0) * 10
    plan = plan_subsets(params.expand, pools | {"general": synthetic}, None)
    items = {s.name: sum(s.sizes.values()) for s in plan} | task_count_items(params.expand)
    sizes = {}
    for name, spec in params.foundation.sizes.items():
        if isinstance(spec, TinyShape):
            sizes[name] = llama_parameters(spec, params.tokenizer.vocab_size, tied=True)
        else:
            sizes[name] = pretrained_parameters(name, spec)
    size_of = {name: model.size for name, model in params.foundation.models.items()}
    runs = {
        name: (size_of[s.foundation], items[split_data_seed(s.subset)[0]])
        for name, s in params.train.settings.items()
    }
    largest = {"reconstruct": items[params.mixes.baseline], "maximum": sum(pools.values())}
    for name, run in params.mixes.settings.items():
        runs[f"mix-{name}"] = (size_of[run.foundation], largest[run.subset.split("-d")[0]])
    epochs = params.train.optim.epochs
    per_run = {}
    for name, (size, count) in sorted(runs.items()):
        tokens = count * tokens_per_item * epochs
        flops = 6 * sizes[size] * tokens
        per_run[name] = {"size": size, "items": count, "tokens": tokens, "flops": flops}
    total = sum(r["flops"] for r in per_run.values())
    seconds = total / (gpu_tflops * 1e12 * utilisation)
    return {
        "assumptions": {
            "tokens_per_item": tokens_per_item,
            "gpu_peak_tflops": gpu_tflops,
            "utilisation": utilisation,
            "flops_per_token": "6 x parameters (forward and backward), evaluation not included",
        },
        "parameters": sizes,
        "epochs": epochs,
        "training_runs": len(per_run),
        "checkpoints": len(per_run) * epochs,
        "training_tokens": sum(r["tokens"] for r in per_run.values()),
        "training_flops": total,
        "gpu_hours": seconds / 3600,
        "gpu_hours_by_size": {
            size: sum(r["flops"] for r in per_run.values() if r["size"] == size)
            / (gpu_tflops * 1e12 * utilisation)
            / 3600
            for size in sorted(sizes)
        },
        "runs": per_run,
    }


def measured_lengths(subset: Path, tokenizer_path: Path, max_length: int) -> dict:
    """Measured on a subset, encoded as training encodes it: the mean length in tokens (after
    truncation), and how many items train.max_length truncates and how many of those kept no answer
    token in their head (their prompt is then cut from the left)."""
    from doit_study.core.files import read_items
    from doit_study.modeling.chat import encode_dialogue, truncation_counts
    from doit_study.modeling.folders import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path)
    encoded = [encode_dialogue(tokenizer, item.messages, max_length) for item in read_items(subset)]
    truncated, prompt_cut = truncation_counts(encoded)
    return {
        "subset": str(subset),
        "items": len(encoded),
        "max_length": max_length,
        "mean_tokens_per_item": sum(len(e.input_ids) for e in encoded) / len(encoded),
        "truncated": truncated,
        "prompt_cut": prompt_cut,
    }
