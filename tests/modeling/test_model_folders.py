"""Damaged or unsafe model folders are refused naming the file and what is wrong, never by a
library traceback: broken safetensors headers, truncated weights, pickle-only folders, custom code."""

import json

import pytest

from doit_study.core.files import DataError
from doit_study.modeling.folders import WEIGHTS, check_safetensors, load_causal_lm
from doit_study.modeling.pretrained import adapt_pretrained
from tests.helpers import folder_source, tiny_llama


@pytest.fixture
def folder(tmp_path, tokenizer):
    """A base model folder as save_pretrained writes it."""
    out = tmp_path / "base"
    tiny_llama(tokenizer).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def test_a_broken_safetensors_header_is_named(folder):
    weights = folder / WEIGHTS
    data = weights.read_bytes()
    weights.write_bytes((10**12).to_bytes(8, "little") + data[8:])  # a length field past the end
    with pytest.raises(DataError, match="broken safetensors header") as refused:
        load_causal_lm(folder)
    assert refused.value.path == str(weights)
    weights.write_bytes(data[:8] + b"#" + data[9:])  # the JSON table itself damaged
    with pytest.raises(DataError, match="not a JSON table of tensors"):
        check_safetensors(weights)


def test_a_truncated_base_model_is_named_before_loading(folder):
    weights = folder / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"truncated safetensors file: its tensors take \d+ bytes, it holds"):
        load_causal_lm(folder)


def test_a_foundation_folder_with_only_pickle_weights_is_refused(tmp_path, tokenizer):
    import torch

    source, model = tmp_path / "upstream", tiny_llama(tokenizer)
    model.config.save_pretrained(source)
    tokenizer.save_pretrained(source)
    torch.save(model.state_dict(), source / "pytorch_model.bin")  # an older release's only weights
    with pytest.raises(DataError, match=r"only pickle weights \(pytorch_model.bin\)") as refused:
        adapt_pretrained(folder_source(source), tmp_path / "out")
    assert refused.value.path == str(source) and not (tmp_path / "out").exists()


CUSTOM = "from transformers import LlamaForCausalLM\n\n\nclass Custom(LlamaForCausalLM):\n    pass\n"


def _with_custom_code(folder):
    (folder / "modeling_custom.py").write_text(CUSTOM)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.Custom"}
    (folder / "config.json").write_text(json.dumps(config))


def test_custom_code_is_refused_unless_trusted(folder, tmp_path):
    _with_custom_code(folder)
    with pytest.raises(DataError, match=r"config.json: auto_map: the model ships its own code") as refused:
        adapt_pretrained(folder_source(folder), tmp_path / "out")
    assert refused.value.path == str(folder / "config.json")


def test_auto_map_is_not_copied_into_the_project_folder(folder, tmp_path):
    _with_custom_code(folder)
    out = tmp_path / "out"
    adapt_pretrained(folder_source(folder, trust_remote_code=True), out)
    assert "auto_map" not in json.loads((out / "config.json").read_text())
    assert not list(out.glob("*.py"))
    assert type(load_causal_lm(out)).__name__ == "LlamaForCausalLM"  # loads with no shipped code


@pytest.mark.parametrize(("scheme", "exact"), [("always", True), ("first", False)])
def test_a_template_that_splits_a_turns_first_word_differently_is_detected(scheme, exact):
    """Metaspace with prepend_scheme "first" (LLaMA's setup in transformers 5) marks a word start only
    at the start of the string a server renders, so the stages' per-turn encoding differs there."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from doit_study.modeling.chat import add_chat_tokens, chat_template
    from doit_study.modeling.pretrained import template_matches

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=scheme)
    backend.decoder = decoders.Metaspace(prepend_scheme=scheme)
    texts = ["what is 2 + 2? 二加二等于几？", "hello world what is this", "the answer is 4"] * 20
    backend.train_from_iterator(
        texts, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"])
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    add_chat_tokens(tokenizer)
    tokenizer.chat_template = chat_template(tokenizer)
    assert template_matches(tokenizer) is exact
