"""The compute budget of a profile: parameter counts, items, tokens, FLOPs and GPU-hours."""

import json

import pytest
from transformers import LlamaConfig, LlamaForCausalLM

from doit_study.core.schema import AnswerKind
from doit_study.params.foundation import PretrainedModel, TinyShape
from doit_study.params.study import load_params
from doit_study.pipeline.cost import llama_parameters, pretrained_parameters, training_cost
from tests.helpers import REPO


@pytest.mark.parametrize("tied", [True, False])
def test_the_parameter_formula_counts_a_real_llama(tied):
    shape = TinyShape(hidden_size=32, layers=3, heads=4, intermediate_size=80)
    config = LlamaConfig(
        vocab_size=500,
        hidden_size=32,
        intermediate_size=80,
        num_hidden_layers=3,
        num_attention_heads=4,
        tie_word_embeddings=tied,
    )
    model = LlamaForCausalLM(config)
    assert llama_parameters(shape, 500, tied) == sum(p.numel() for p in model.parameters())


LOCAL = {"gguf": None, "trust_remote_code": False, "local_files_only": True}


def test_a_real_model_is_counted_from_its_config_or_its_name(tmp_path):
    folder = tmp_path / "7b"
    folder.mkdir()
    config = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32}
    config |= {"intermediate_size": 11008, "vocab_size": 32000}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert (
        pretrained_parameters("7b", PretrainedModel(path=str(folder), **LOCAL)) == 6_738_415_616
    )  # LLaMA-7b
    assert (
        pretrained_parameters("13b", PretrainedModel(path=str(tmp_path / "absent"), **LOCAL))
        == 13_000_000_000
    )
    with pytest.raises(ValueError, match="no size in the name"):
        pretrained_parameters("big", PretrainedModel(path=str(tmp_path / "absent"), **LOCAL))


def test_the_paper_profile_budget_follows_from_its_settings():
    params = load_params(REPO / "profiles/paper.yaml")
    budget = training_cost(params, tokens_per_item=100, gpu_tflops=100, utilisation=0.5)
    assert budget["training_runs"] == 51 and budget["checkpoints"] == 765
    run = budget["runs"]["33b-curated-n1000"]
    assert run["items"] == 10_000 and run["tokens"] == 10_000 * 100 * 15
    assert run["flops"] == 6 * 33e9 * run["tokens"]
    assert budget["runs"]["7b-only-math-n64"]["items"] == 64
    assert budget["gpu_hours"] == pytest.approx(budget["training_flops"] / 50e12 / 3600)
    assert sum(budget["gpu_hours_by_size"].values()) == pytest.approx(budget["gpu_hours"])


def test_measured_lengths_count_the_items_max_length_truncates(tokenizer, tmp_path):
    from doit_study.core.files import write_items
    from doit_study.pipeline.cost import measured_lengths
    from tests.helpers import make

    tokenizer.save_pretrained(tmp_path / "tokenizer")
    short, long_prompt = make("细胞核的作用？", "B"), make("很长的问题。" * 40, "B")
    long_answer = make("问", "很长的回答。" * 40, kind=AnswerKind.open)
    write_items(tmp_path / "subset.jsonl", [short, long_prompt, long_answer])
    found = measured_lengths(tmp_path / "subset.jsonl", tmp_path / "tokenizer", max_length=32)
    assert (found["items"], found["truncated"], found["prompt_cut"]) == (3, 2, 1)
    assert found["mean_tokens_per_item"] <= 32
