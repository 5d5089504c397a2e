"""Foundations (tiny pretraining, real models by path) and the train stage's bad inputs."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from doit_study.modeling.chat import CHAT_TEMPLATE, CHAT_TOKENS, chat_ids
from doit_study.modeling.folders import TinyLlama, load_causal_lm, load_tokenizer
from doit_study.modeling.pretrained import adapt_pretrained
from doit_study.training.loop import TrainConfig
from doit_study.training.pretraining import pack_blocks, pretrain_tiny
from tests.helpers import REPO, folder_source

TEXTS = [f"第{i}句：春天来了，小草发芽了，{i}加{i}等于{2 * i}。" for i in range(60)]


@pytest.fixture(scope="module")
def plain_model_dir(tmp_path_factory) -> Path:
    """A causal LM folder as save_pretrained writes it, whose tokenizer lacks the chat tokens."""
    folder = tmp_path_factory.mktemp("upstream")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        TEXTS,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def test_real_model_gets_chat_tokens_and_resized_embeddings(plain_model_dir, tmp_path):
    record = adapt_pretrained(folder_source(plain_model_dir), tmp_path / "base")
    tokenizer = load_tokenizer(tmp_path / "base")
    model = load_causal_lm(tmp_path / "base")
    assert set(CHAT_TOKENS) <= set(tokenizer.get_vocab()) and tokenizer.pad_token is not None
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert record["kind"] == "pretrained" and record["added_tokens"] >= 3
    assert list((tmp_path / "base").glob("*.safetensors"))
    # the new rows are ones a model can use: <eot> is the end of a text, the speakers their words
    ids, rows = chat_ids(tokenizer), model.get_input_embeddings().weight
    assert torch.equal(rows[ids.end_of_turn], rows[tokenizer.eos_token_id])
    spelled = tokenizer.encode("assistant", add_special_tokens=False)
    assert torch.allclose(rows[ids.assistant], rows[spelled].mean(dim=0))
    assert record["chat_token_rows"] == {
        "<eot>": "</s>",
        "<user>": "mean of 'user'",
        "<assistant>": "mean of 'assistant'",
    }
    assert record["chat_template_exact"]
    # a standard server prompts and stops as the stages do
    assert ids.end_of_turn in model.generation_config.eos_token_id
    assert tokenizer.chat_template.endswith(CHAT_TEMPLATE)


def test_a_folder_without_safetensors_is_refused(plain_model_dir, tmp_path):
    from doit_study.core.files import DataError

    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="no safetensors"):
        load_causal_lm(tmp_path / "pickled")


def test_tiny_pretraining_writes_a_loadable_folder(tmp_path, tokenizer):
    blocks = pack_blocks(tokenizer, TEXTS, seq_len=32, max_tokens=2000)
    assert blocks and all(len(ids) == 32 for ids, _ in blocks)
    config = TrainConfig(epochs=1, peak_lr=3e-3, end_lr=3e-4, global_batch=8, micro_batch=8, length_group=1)
    record = pretrain_tiny(
        TinyLlama(32, 1, 4, 64, 128), tokenizer, blocks, config, tmp_path / "work", tmp_path / "base"
    )
    model = load_causal_lm(tmp_path / "base")
    assert record["parameters"] == sum(p.numel() for p in model.parameters())
    assert not (tmp_path / "work").exists()


def _stage(args, cwd, env=None):
    return subprocess.run(
        [sys.executable, str(REPO / "stages/train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _params(tmp_path: Path) -> Path:
    params = yaml.safe_load((REPO / "profiles/smoke.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _subset(tmp_path: Path) -> Path:
    line = {
        "messages": [{"role": "user", "content": "一加一等于几？"}, {"role": "assistant", "content": "二"}],
        "type": "math",
        "answer": "2",
    }
    path = tmp_path / "curated-n1.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _args(params, subset, base, out):
    return [
        "--params",
        str(params),
        "--setting",
        "s-curated-n1",
        "--stage",
        "train@s-curated-n1",
        "--foundation",
        "s",
        "--seed",
        "0",
        "--subset",
        str(subset),
        "--base",
        str(base),
        "--raw-manifest",
        "data/raw/manifest.json",
        "--valid",
        "data/annotated/valid",
        "--out",
        str(out),
    ]


def _assert_bad_input(result, text):
    assert result.returncode == 2, result.stderr
    assert text in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # the train stage as a subprocess
def test_unknown_base_model_path(tmp_path):
    result = _stage(
        _args(_params(tmp_path), _subset(tmp_path), tmp_path / "nowhere", tmp_path / "out"), tmp_path
    )
    _assert_bad_input(result, "no such model folder")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # the train stage as a subprocess
def test_setting_with_a_missing_subset(tmp_path, plain_model_dir):
    result = _stage(
        _args(_params(tmp_path), tmp_path / "absent.jsonl", plain_model_dir, tmp_path / "out"), tmp_path
    )
    _assert_bad_input(result, "names subset 'absent', which was not written")


@pytest.mark.slow  # the train stage as a subprocess
def test_tokenizer_that_cannot_encode_the_chat(tmp_path, plain_model_dir):
    result = _stage(_args(_params(tmp_path), _subset(tmp_path), plain_model_dir, tmp_path / "out"), tmp_path)
    _assert_bad_input(result, "the tokenizer cannot encode the data")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # the train stage as a subprocess
def test_an_unreachable_tracking_server_stops_the_stage_before_training(tmp_path):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    args = _args(_params(tmp_path), _subset(tmp_path), tmp_path / "nowhere", tmp_path / "out")
    result = _stage(args, tmp_path, env)
    _assert_bad_input(result, f"the MLflow tracking server http://127.0.0.1:{port} does not answer")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # the train stage as a subprocess
def test_a_half_precision_release_is_fine_tuned_with_float32_weights(tmp_path, plain_model_dir):
    # real releases ship bf16 or fp16 weights, which transformers 5 loads as saved
    adapt_pretrained(folder_source(plain_model_dir), tmp_path / "base")
    load_causal_lm(tmp_path / "base").to(torch.bfloat16).save_pretrained(tmp_path / "base")
    assert load_causal_lm(tmp_path / "base").dtype == torch.bfloat16
    record = {"model": "s", "size": "s", "seed": 0}  # what the foundation stage writes beside it
    (tmp_path / "base" / "foundation.json").write_text(json.dumps(record), encoding="utf-8")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    result = _stage(
        _args(_params(tmp_path), _subset(tmp_path), tmp_path / "base", tmp_path / "out"), tmp_path, env
    )
    assert result.returncode == 0, result.stderr
    weights = load_file(tmp_path / "out" / "epoch-02" / "model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
