"""Scoring items: judging outputs, random baselines, bad items, reading choices from text or logits,
answer budgets, and whole-item scoring on a tiny model."""

import math

import pytest

from doit_study.core.files import DataError, sha256_file
from doit_study.core.schema import AnswerKind
from doit_study.evaluation.item_scoring import (
    OptionTokens,
    ScoringConfig,
    answer_budgets,
    check_scorable,
    compare_answer,
    random_baseline,
    read_choice,
    score_items,
    summarise,
)
from doit_study.modeling.checkpoints import load_checkpoint
from tests.helpers import FOUR, make, smoke_group

BUDGETS = {"letter": 4, "multi_letter": 4, "true_false": 4, "fill": 4, "math": 8}


def _config(**overrides):
    fields = {"generation_batch": 8, "nll_token_budget": 256, "max_new_tokens": BUDGETS} | overrides
    return ScoringConfig.from_params(smoke_group("evaluate", **fields))


CONFIG = _config(choice_parse="text", gold_length_quantile=None)


@pytest.mark.parametrize(
    ("kind", "output", "gold", "expected"),
    [
        (AnswerKind.letter, "答案：B", "B", (True, False, "B")),
        (AnswerKind.letter, "A", "B", (False, False, "A")),
        (AnswerKind.letter, "不知道", "B", (False, True, None)),
        (AnswerKind.multi_letter, "D、C", "CD", (True, False, "CD")),
        (AnswerKind.multi_letter, "C", "CD", (False, False, "C")),
        (AnswerKind.true_false, "这是错误的", "错误", (True, False, "F")),
        (AnswerKind.true_false, "对", "错误", (False, False, "T")),
        (AnswerKind.fill, "欲。", "欲", (True, False, "欲")),
        (AnswerKind.math, "3/4 即\n答案：0.75", "答案：3/4", (True, False, "0.75")),
        (AnswerKind.math, "算不出来", "答案：3/4", (False, True, None)),
    ],
)
def test_judge_by_answer_kind(kind, output, gold, expected):
    assert compare_answer(kind, output, gold) == expected


def test_random_baseline_comes_from_the_item():
    assert random_baseline(make(FOUR, "B")) == 0.25
    three = "下列正确的是：\nA. 甲\nB. 乙\nC. 丙"
    assert random_baseline(make(three, "C")) == pytest.approx(1 / 3)
    assert random_baseline(make(FOUR, "BD", kind=AnswerKind.multi_letter)) == pytest.approx(1 / 6)
    assert random_baseline(make("判断正误：水是液体。", "正确", kind=AnswerKind.true_false)) == 0.5
    assert random_baseline(make("1+1=?", "答案：2", ability="math", kind=AnswerKind.math)) == 0.0
    format1 = make("写一句话", "甲", ability="code", kind=AnswerKind.open, fmt=1, choices=["甲", "乙", "丙"])
    assert random_baseline(format1) == pytest.approx(1 / 3)


def test_bad_items_are_named():
    with pytest.raises(DataError, match="item x1: a format-1 item needs its choices"):
        check_scorable(make("写一句话", "甲", kind=AnswerKind.open, fmt=1, id="x1"), "valid/code.jsonl")
    with pytest.raises(DataError, match="item x2: no answer_kind"):
        check_scorable(make(FOUR, "B", kind=None, id="x2"), "valid/biology.jsonl")
    with pytest.raises(DataError, match="x3: the gold answer does not parse as letter"):
        check_scorable(make(FOUR, "细胞核", id="x3"), "valid/biology.jsonl")


def test_score_items_never_raises_on_unparsable_output_and_counts_it(tiny):
    model, tokenizer = tiny
    items = [
        make(FOUR, "B", id="a"),
        make("1+1=?", "答案：2", ability="math", kind=AnswerKind.math, id="b"),
        make("判断正误：水是液体。", "正确", ability="history", kind=AnswerKind.true_false, id="c"),
    ]
    predictions = score_items(model, tokenizer, items, CONFIG)
    assert [p.id for p in predictions] == ["a", "b", "c"]  # the order of the items, whatever the batching
    summary = summarise(items, predictions)
    for prediction in predictions:  # an untrained model: whatever it says is judged, never raised
        kind = AnswerKind(prediction.answer_kind)
        assert prediction.correct == compare_answer(kind, prediction.output, prediction.gold)[0]
        assert summary[prediction.type]["unparsed"] == int(prediction.unparsed)


def test_a_perplexity_tie_counts_as_wrong(tiny):
    model, tokenizer = tiny
    tie = make(
        "写一句诗",
        "春眠不觉晓",
        ability="creative_writing",
        kind=AnswerKind.open,
        fmt=1,
        choices=["春眠不觉晓", "春眠不觉晓", "花落知多少"],
        id="t",
    )
    [prediction] = score_items(model, tokenizer, [tie], CONFIG)
    assert prediction.ppl[0] == pytest.approx(prediction.ppl[1], rel=1e-6)
    assert prediction.correct is False


def test_a_checkpoint_without_weights_or_with_other_weights_is_refused(tiny, tmp_path):
    model, _ = tiny
    with pytest.raises(DataError, match="no weights in the checkpoint folder"):
        load_checkpoint(tmp_path)
    model.save_pretrained(tmp_path, safe_serialization=True)
    (tmp_path / "checkpoint.json").write_text('{"weights_sha256": "0000"}', encoding="utf-8")
    with pytest.raises(DataError, match="do not match the hash"):
        load_checkpoint(tmp_path)
    digest = sha256_file(tmp_path / "model.safetensors")
    (tmp_path / "checkpoint.json").write_text(f'{{"weights_sha256": "{digest}"}}', encoding="utf-8")
    assert load_checkpoint(tmp_path).training is False


# choice_parse: the authors' choice_parse_mode, on hand-written first-token scores
SCORES = {"A": -2.0, "B": -0.5, "C": -3.0, "D": -1.0}  # B has the highest log-probability


@pytest.mark.parametrize(
    ("mode", "text", "expected"),
    [
        ("text", "答案：C", ("C", "text")),
        ("text", "不知道", (None, "text")),
        ("logits", "答案：C", ("B", "logits")),  # the text is ignored
        ("both", "C", ("C", "text")),  # a bare letter is read from the text
        ("both", "C。", ("C", "text")),
        ("both", "答案：C", ("B", "logits")),  # anything else: the logits (the authors' rule)
        ("both", "不知道", ("B", "logits")),
    ],
)
def test_single_choice_read_by_mode(mode, text, expected):
    assert read_choice(AnswerKind.letter, text, SCORES, mode, "ABCD") == expected


def test_true_false_both_reads_a_stated_verdict_and_else_the_logits():
    scores = {"T": -0.2, "F": -1.7}
    assert read_choice(AnswerKind.true_false, "不对", scores, "both", "ABCD") == ("F", "text")
    assert read_choice(AnswerKind.true_false, "既对又错", scores, "both", "ABCD") == ("T", "logits")
    assert read_choice(AnswerKind.true_false, "不对", scores, "logits", "ABCD") == ("T", "logits")


def test_logit_ties_go_to_the_first_option():
    assert read_choice(AnswerKind.letter, "", dict.fromkeys("ABCD", -1.0), "logits", "ABCD") == (
        "A",
        "logits",
    )


def test_option_scores_are_the_first_token_log_probabilities(tokenizer):
    options = OptionTokens.of(tokenizer)
    logprobs = {token: -float(k) for k, token in enumerate(options.ids())}
    item = make("下列正确的是：\nA. 甲\nB. 乙\nC. 丙", "B")  # three options: A-C only
    scores = options.scores(item, logprobs)
    assert list(scores) == ["A", "B", "C"]
    assert scores["B"] == logprobs[tokenizer.encode("B", add_special_tokens=False)[0]]
    verdict = options.scores(make("判断：水是液体。", "正确", kind=AnswerKind.true_false), logprobs)
    true = [logprobs[t] for t in options.true]
    assert verdict["T"] == pytest.approx(math.log(sum(math.exp(v) for v in true)))


def test_logits_mode_reads_the_model_and_records_the_option_scores(tiny):
    model, tokenizer = tiny
    items = [
        make(FOUR, "B", id="a"),
        make("判断正误：水是液体。", "正确", ability="history", kind=AnswerKind.true_false, id="b"),
    ]
    [letter, verdict] = score_items(model, tokenizer, items, _config(choice_parse="logits"))
    assert letter.parsed_from == "logits" and set(letter.option_logprobs) == set("ABCD")
    assert letter.parsed == max(letter.option_logprobs, key=letter.option_logprobs.get)
    assert letter.correct == (letter.parsed == "B") and not letter.unparsed
    assert set(verdict.option_logprobs) == {"T", "F"} and verdict.parsed in ("T", "F")
    # the same scores as the next-token log-probabilities of a plain forward pass
    from doit_study.evaluation.model_calls import next_token_logprobs
    from doit_study.modeling.chat import encode_prompt

    ids = OptionTokens.of(tokenizer).letters
    prompt = encode_prompt(tokenizer, items[0].messages)
    [direct] = next_token_logprobs(model, [prompt], [ids[k] for k in "ABCD"], tokenizer.pad_token_id, 1)
    assert [letter.option_logprobs[k] for k in "ABCD"] == pytest.approx(direct, abs=1e-5)


def test_budgets_grow_to_hold_the_gold_answers(tokenizer):
    chain = "先算乘法，再算加法，最后检查一遍结果是否正确。" * 3 + "\n答案：7"
    items = [
        make("1+2*3=?", chain, ability="math", kind=AnswerKind.math, answer="7", id=f"m{k}") for k in range(4)
    ]
    needed = len(tokenizer.encode(chain, add_special_tokens=False))
    grown = answer_budgets(tokenizer, items, _config(gold_length_quantile=0.95))
    assert grown["math"] == {"tokens": needed, "gold_fit": 1.0} and needed > BUDGETS["math"]
    fixed = answer_budgets(tokenizer, items, _config(gold_length_quantile=None))
    assert fixed["math"] == {"tokens": BUDGETS["math"], "gold_fit": 0.0}  # unscorable, and it shows
    assert fixed["letter"]["gold_fit"] is None  # no letter item was scored
