"""Scoring items: judging outputs, random baselines, bad items, and whole-item scoring on a tiny model."""

import pytest

from doit_study.chat import add_chat_tokens
from doit_study.checkpoints import load_checkpoint
from doit_study.evaluation import (
    ScoringConfig,
    check_scorable,
    judge,
    random_baseline,
    score_items,
    summarise,
)
from doit_study.io import DataError, sha256_file
from doit_study.modeling import TinyLlama, new_tiny_llama
from doit_study.schema import AnswerKind
from doit_study.tokenizer_training import train_tokenizer
from tests.conftest import make

FOUR = "细胞中储存遗传信息的是：\nA. 核糖体\nB. DNA\nC. 线粒体\nD. 高尔基体\n请选出正确的一项。"
CONFIG = ScoringConfig(8, 256, {"letter": 4, "multi_letter": 4, "true_false": 4, "fill": 4, "math": 8})


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
    assert judge(kind, output, gold) == expected


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


@pytest.fixture(scope="module")
def tiny():
    poem = "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"
    tokenizer = train_tokenizer([FOUR, poem] * 20, vocab_size=300)
    add_chat_tokens(tokenizer)
    shape = TinyLlama(hidden_size=32, layers=1, heads=4, intermediate_size=64, max_position_embeddings=256)
    return new_tiny_llama(shape, tokenizer, seed=0).eval(), tokenizer


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
        assert prediction.correct == judge(kind, prediction.output, prediction.gold)[0]
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
