"""The model judge: strict verdicts, both orders (a judge that always prefers the first answer is all
inconsistency, hence ties), the win rate and its interval, the cache (a rerun asks nothing), the
error naming an endpoint that does not answer, and the endpoint path against a real
OpenAI-compatible server (`transformers serve`) started on loopback over a tiny model trained to
answer with a verdict."""

import time
from pathlib import Path

import pytest

from doit_study.evaluation.judge_clients import EndpointJudge, LocalJudge
from doit_study.evaluation.judging import (
    Comparison,
    JudgeCache,
    comparisons_for,
    judge_comparisons,
    judge_messages,
    outcome,
    parse_verdict,
    win_rate,
)
from tests.helpers import free_port, transformers_serve

ITEMS = [Comparison(f"item-{k}", f"问题 {k}", f"回答 {k}", f"参考 {k}") for k in range(6)]


class Always:
    """A judge that answers every prompt with the same text, counting what it is asked."""

    def __init__(self, text: str):
        self.text, self.asked = text, 0

    def complete(self, prompts):
        self.asked += len(prompts)
        return [self.text] * len(prompts)


class PrefersLonger:
    """A judge without position bias: the longer answer wins, equal lengths tie."""

    def complete(self, prompts):
        answers = []
        for messages in prompts:
            text = messages[1]["content"]
            first = text.split("[The start of answer A]\n")[1].split("\n[The end of answer A]")[0]
            second = text.split("[The start of answer B]\n")[1].split("\n[The end of answer B]")[0]
            answers.append(
                "[[A]]" if len(first) > len(second) else "[[B]]" if len(second) > len(first) else "[[C]]"
            )
        return answers


def test_verdicts_are_read_only_when_exactly_one_is_given():
    assert parse_verdict("A 更完整。\n[[A]]") == "A" and parse_verdict("[[C]]") == "C"
    assert parse_verdict("[[A]] 还是 [[B]]？") is None  # two verdicts: unreadable, never guessed
    assert parse_verdict("A is better") is None and parse_verdict("[A]") is None
    assert parse_verdict("[[A]]\n最终：[[A]]") == "A"  # the same verdict twice is one verdict


def test_both_orders_cancel_position_bias():
    assert outcome("A", "B") == "win" and outcome("B", "A") == "loss" and outcome("C", "C") == "tie"
    assert outcome("A", "A") == "inconsistent"  # preferred the first position both times
    assert outcome("A", None) == "unparsable"


def test_a_judge_that_always_prefers_the_first_answer_scores_only_ties(tmp_path):
    judge = Always("[[A]]")
    records, asked = judge_comparisons(ITEMS, judge, JudgeCache(tmp_path, "always-a"))
    assert asked == 12 and {r["outcome"] for r in records} == {"inconsistent"}
    assert records[0]["prompts"][0] == judge_messages("问题 0", "回答 0", "参考 0")
    assert records[0]["prompts"][1] == judge_messages("问题 0", "参考 0", "回答 0")
    assert records[0]["raw_verdicts"] == ["[[A]]", "[[A]]"] and records[0]["verdicts"] == ["A", "A"]
    rate = win_rate([r["outcome"] for r in records], 200, 0, 0.95)
    assert rate["win_rate"] == 0.5 and rate["inconsistent"] == 6 and rate["interval"]["low"] == 0.5


def test_win_rate_counts_unparsable_verdicts_apart_with_a_bootstrap_interval():
    outcomes = ["win"] * 6 + ["loss"] * 2 + ["tie"] * 2 + ["unparsable"] * 3
    rate = win_rate(outcomes, 500, 0, 0.9)
    assert rate["win_rate"] == pytest.approx(0.7) and rate["judged"] == 10 and rate["unparsable"] == 3
    assert rate["interval"]["low"] < 0.7 < rate["interval"]["high"] <= 1.0
    assert rate == win_rate(outcomes, 500, 0, 0.9)  # seeded
    assert win_rate(["unparsable"], 100, 0, 0.9)["win_rate"] is None


def test_an_unbiased_judge_in_both_orders_gives_wins_losses_and_ties(tmp_path):
    items = [
        Comparison("long", "问", "这是一个更长的回答", "短"),
        Comparison("short", "问", "短", "这是一个更长的参考"),
        Comparison("same", "问", "一样", "同样"),
    ]
    records, _ = judge_comparisons(items, PrefersLonger(), JudgeCache(tmp_path, "longer"))
    assert [r["outcome"] for r in records] == ["win", "loss", "tie"]


def test_the_cache_makes_a_rerun_free_and_is_keyed_by_the_judge(tmp_path):
    first = Always("[[B]]")
    judge_comparisons(ITEMS, first, JudgeCache(tmp_path, "judge-1"))
    again = Always("[[B]]")
    records, asked = judge_comparisons(ITEMS, again, JudgeCache(tmp_path, "judge-1"))  # read from disk
    assert asked == 0 and again.asked == 0 and {r["outcome"] for r in records} == {"inconsistent"}
    other = Always("[[C]]")
    records, asked = judge_comparisons(ITEMS, other, JudgeCache(tmp_path, "judge-2"))  # another judge
    assert asked == 12 and {r["outcome"] for r in records} == {"tie"}


def test_pairwise_comparison_needs_the_other_settings_answer_to_every_item():
    answers = [{"id": "a", "question": "问", "output": "甲", "reference": "参考"}]
    assert comparisons_for(answers, None)[0].other == "参考"
    assert comparisons_for(answers, [{"id": "a", "output": "乙"}])[0].other == "乙"
    with pytest.raises(ValueError, match="no answer to item a"):
        comparisons_for(answers, [{"id": "b", "output": "乙"}])


def test_an_endpoint_that_does_not_answer_is_named_before_any_work():
    url = f"http://127.0.0.1:{free_port()}/v1"
    judge = EndpointJudge(url, "judge", None, 8, retries=0, timeout=2)
    with pytest.raises(ConnectionError, match=f"judge endpoint {url} does not answer"):
        judge.check()


def test_an_endpoint_that_does_not_answer_is_named_without_its_credentials():
    url = f"http://judge:s3cret@127.0.0.1:{free_port()}/v1?api_key=k3y"
    judge = EndpointJudge(url, "judge", None, 8, retries=0, timeout=2)
    with pytest.raises(
        ConnectionError, match=r"judge endpoint http://\*\*\*@127.0.0.1:\d+/v1\?api_key=\*\*\*"
    ):
        judge.check()


def test_the_key_is_read_from_the_named_environment_variable_only(monkeypatch):
    monkeypatch.setenv("DOIT_TEST_JUDGE_KEY", "secret-from-env")
    judge = EndpointJudge("http://127.0.0.1:9/v1", "judge", "DOIT_TEST_JUDGE_KEY", 8, 0, 2)
    assert judge.client.api_key == "secret-from-env" and "secret" not in judge.identity


def _verdict_model(folder: Path, tokenizer) -> Path:
    """A tiny model trained (256 steps, seeded) on 32 judge prompts of random words to answer any
    judge prompt with "[[A]]": a judge with nothing but position bias."""
    import dataclasses
    import random

    import torch

    from doit_study.core.schema import Message
    from doit_study.modeling.chat import chat_ids, encode_prompt
    from doit_study.modeling.folders import new_tiny_llama
    from tests.helpers import TINY

    torch.manual_seed(0)
    shape = dataclasses.replace(TINY, max_position_embeddings=1024)  # judge prompts run to ~600 tokens
    model = new_tiny_llama(shape, tokenizer, seed=0).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    rng, words = random.Random(0), "春眠不觉晓处处闻啼鸟夜来风雨声花落知多少细胞核糖体线粒体"

    def text() -> str:
        return "".join(rng.choice(words) for _ in range(rng.randint(1, 12)))

    answer = [*tokenizer.encode("[[A]]", add_special_tokens=False), chat_ids(tokenizer).end_of_turn]
    examples = []
    for _ in range(32):
        messages = [
            Message(role="user", content=m["content"]) for m in judge_messages(text(), text(), text())
        ]
        prompt = encode_prompt(tokenizer, messages)
        examples.append((prompt + answer, [-100] * len(prompt) + answer))
    for step in range(256):
        ids, labels = examples[step % len(examples)]
        model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_the_endpoint_path_against_a_real_openai_compatible_server(tmp_path, tokenizer):
    """`transformers serve` (FastAPI, OpenAI's chat completions API) on loopback over a local model
    folder; the judge asks it through the openai client, the cache spares a rerun."""
    folder = _verdict_model(tmp_path / "judge-model", tokenizer)
    local = LocalJudge(folder, max_tokens=8, batch_size=4)
    assert local.complete([judge_messages("问题 9", "回答", "参考")]) == ["[[A]]"]  # learned, in process
    with transformers_serve(folder, tmp_path) as url:
        judge = EndpointJudge(url, str(folder), None, max_tokens=8, retries=0, timeout=60)
        for _ in range(120):  # up in a few seconds; bounded
            try:
                judge.check()
                break
            except ConnectionError:
                time.sleep(0.5)
        judge.check()
        cache = JudgeCache(tmp_path / "cache", judge.identity)
        records, asked = judge_comparisons(ITEMS[:3], judge, cache)
        assert asked == 6 and [r["raw_verdicts"] for r in records] == [["[[A]]", "[[A]]"]] * 3
        assert {r["outcome"] for r in records} == {"inconsistent"}  # position bias, cancelled
        again, asked = judge_comparisons(ITEMS[:3], judge, JudgeCache(tmp_path / "cache", judge.identity))
        assert asked == 0 and again == records
