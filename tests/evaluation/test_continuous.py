"""Continuous scores: the three families on hand-computed numbers, an ability's family and chance,
and the scores a tiny model's items get, against plain forward passes."""

import math

import pytest
import torch

from doit_study.core.schema import AnswerKind
from doit_study.evaluation.continuous import (
    ability_family,
    distractor_margin,
    letter_sets,
    nll_per_byte,
    option_probability,
    summarise_continuous,
)
from doit_study.evaluation.item_scoring import OptionTokens, ScoringConfig, score_items, summarise
from doit_study.evaluation.model_calls import continuation_nll_naive, next_token_logprobs
from doit_study.modeling.chat import chat_ids, encode_prompt
from tests.helpers import FOUR, make, smoke_group


def test_option_probability_renormalises_over_the_options():
    logprobs = {"A": math.log(0.05), "B": math.log(0.02), "C": math.log(0.02), "D": math.log(0.01)}
    assert option_probability(logprobs, "A") == pytest.approx(0.5)
    assert option_probability(logprobs, "D") == pytest.approx(0.1)
    shifted = {k: v - 40.0 for k, v in logprobs.items()}  # tiny probabilities: no underflow
    assert option_probability(shifted, "A") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="not among"):
        option_probability(logprobs, "E")


def test_margin_is_the_best_distractor_minus_the_gold():
    assert distractor_margin([1.0, 2.5, 1.5]) == pytest.approx(0.5)  # gold wins by 0.5 nats/token
    assert distractor_margin([2.0, 1.25, 3.0]) == pytest.approx(-0.75)
    with pytest.raises(ValueError):
        distractor_margin([1.0])


def test_nll_per_byte_counts_utf8_bytes():
    # 3 tokens at 2 nats each over "氧气" (6 bytes): -1 nat per byte
    assert nll_per_byte(2.0, 3, "氧气") == pytest.approx(-1.0)
    assert nll_per_byte(1.0, 2, "ab") == pytest.approx(-1.0)


def test_an_ability_takes_its_majority_family_and_its_chance():
    assert ability_family(["option", "bytes", "bytes"]) == "bytes"
    assert ability_family(["bytes", "option"]) == "option"  # a tie: option first
    found = summarise_continuous([0.5, 0.25, -2.0], ["option", "option", "bytes"], [0.25, 0.5, None])
    assert found == {
        "continuous": 0.375,
        "continuous_random": 0.375,
        "continuous_family": "option",
        "continuous_items": 2,
    }
    found = summarise_continuous([-1.0, -3.0], ["bytes", "bytes"], [None, None])
    assert found["continuous"] == -2.0 and found["continuous_random"] is None


def test_scores_of_a_tiny_model_equal_plain_forward_passes(tiny):
    model, tokenizer = tiny
    items = [
        make(FOUR, "B", id="a"),
        make("“氧”的拼音是____。", "yǎng", ability="chinese", kind=AnswerKind.fill, id="b"),
        make(
            "选出通顺的句子。",
            "他走了。",
            ability="code",
            kind=AnswerKind.open,
            fmt=1,
            choices=["他走了。", "走了他。", "了走他。"],
            id="c",
        ),
    ]
    config = ScoringConfig.from_params(smoke_group("evaluate", choice_parse="text"))
    [letter, fill, ranked] = score_items(model, tokenizer, items, config)
    ids, eot = OptionTokens.of(tokenizer).letters, chat_ids(tokenizer).end_of_turn
    prompts = [encode_prompt(tokenizer, item.messages) for item in items]
    [direct] = next_token_logprobs(model, prompts[:1], [ids[k] for k in "ABCD"], tokenizer.pad_token_id, 1)
    expected = math.exp(direct[1]) / sum(math.exp(v) for v in direct)
    assert letter.family == "option" and letter.continuous == pytest.approx(expected, abs=1e-5)

    answer = tokenizer.encode("yǎng", add_special_tokens=False)
    [[nll, with_stop]] = continuation_nll_naive(model, prompts[1:2], [[answer, [*answer, eot]]])
    assert fill.family == "bytes" and fill.gold_nll == pytest.approx(with_stop, abs=1e-4)
    # the answer's own tokens: the stop token is the format, not the answer
    assert fill.continuous == pytest.approx(-nll * len(answer) / len("yǎng".encode()), abs=1e-4)

    choices = [[*tokenizer.encode(c, add_special_tokens=False), eot] for c in items[2].choices]
    [nlls] = continuation_nll_naive(model, prompts[2:], [choices])
    assert ranked.family == "margin" and ranked.continuous == pytest.approx(min(nlls[1:]) - nlls[0], abs=1e-4)

    summary = summarise(items, [letter, fill, ranked])
    assert summary["biology"]["continuous_random"] == 0.25 and summary["biology"]["continuous_items"] == 1
    assert summary["chinese"]["continuous_random"] is None
    assert summary["code"]["continuous_random"] == 0.0 and summary["code"]["loss"] == pytest.approx(
        nlls[0], abs=1e-4
    )


def test_a_multi_letter_gold_is_scored_among_every_letter_set():
    assert letter_sets("BD", "ABCD")[0] == "BD" and len(letter_sets("BD", "ABCD")) == 15
    assert sorted(letter_sets("A", "AB")) == ["A", "AB", "B"]
    assert letter_sets("DB", "ABCD") is None and letter_sets("B,D", "ABCD") is None


def test_format_only_learning_leaves_the_answer_scores_where_they_were(tiny):
    """A model that learned only to stop (its stop token boosted everywhere) keeps the per-byte and
    the letter-set scores within a small fraction of what the stop token's own loss moved."""
    model, tokenizer = tiny
    items = [
        make("“氧”的拼音是____。", "yǎng", ability="chinese", kind=AnswerKind.fill, id="b"),
        make(FOUR + "（多选）", "BD", ability="ethics", kind=AnswerKind.multi_letter, id="m"),
    ]
    config = ScoringConfig.from_params(smoke_group("evaluate", choice_parse="text"))
    before = score_items(model, tokenizer, items, config)
    eot, head = chat_ids(tokenizer).end_of_turn, model.get_output_embeddings()
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[eot] = 3.0  # the stop token's logit raised at every position
    model.set_output_embeddings(biased)
    try:
        after = score_items(model, tokenizer, items, config)
    finally:
        model.set_output_embeddings(head)
    fill, multi = zip(before, after, strict=True)
    assert multi[0].family == "option" and 0 < multi[0].continuous < 1
    tokens = len(tokenizer.encode("yǎng", add_special_tokens=False)) + 1
    with_stop = [-f.gold_nll * tokens / len("yǎng".encode()) for f in fill]  # the old definition
    assert abs(with_stop[1] - with_stop[0]) > 0.3  # counting the stop token, the score jumps
    assert abs(fill[1].continuous - fill[0].continuous) < 0.2 * abs(with_stop[1] - with_stop[0])
    assert abs(multi[1].continuous - multi[0].continuous) < 0.05
