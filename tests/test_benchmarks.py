"""Benchmark layouts (CMMLU, AGIEval), the offline held-out set and k-shot prompts."""

import pytest

from doit_study.benchmarks import build_character_benchmark, load_agieval, load_cmmlu, prompt_text
from doit_study.io import DataError
from tests.conftest import FIXTURES


def test_cmmlu_layout_reads_dev_and_test_per_subject():
    questions = load_cmmlu(FIXTURES / "cmmlu")
    test = [q for q in questions if q.split == "test"]
    assert [(q.subject, q.answer) for q in test] == [
        ("ancient_chinese", "B"),
        ("ancient_chinese", "A"),
        ("ancient_chinese", "C"),
        ("high_school_biology", "B"),
    ]
    assert test[1].options == ["学而时习之", "大道之行也", "何陋之有", "送杜少府之任蜀州"]
    assert sum(q.split == "dev" for q in questions) == 2


def test_cmmlu_errors_name_file_and_line(tmp_path):
    (tmp_path / "test").mkdir()
    rows = ",Question,A,B,C,D,Answer\n0,问,甲,乙,丙,丁,E\n"
    (tmp_path / "test" / "law.csv").write_text(rows, encoding="utf-8")
    with pytest.raises(DataError, match=r"law\.csv:2.*answer"):
        load_cmmlu(tmp_path)
    with pytest.raises(DataError, match="not a CMMLU layout"):
        load_cmmlu(tmp_path / "nowhere")


def test_agieval_keeps_single_answer_questions_and_holds_back_exemplars():
    questions = load_agieval(FIXTURES / "agieval", ["logiqa-zh"], dev=1)
    assert [(q.split, q.answer) for q in questions] == [("dev", "A"), ("test", "C"), ("test", "B")]
    assert questions[0].question.startswith("所有的鸟都会飞") and questions[0].options[0] == "企鹅会飞"
    with pytest.raises(DataError, match="not found"):
        load_agieval(FIXTURES / "agieval", ["gaokao-physics"], dev=1)


RECORDS = [
    {"key": f"字典.json#{i}", "word": word, "strokes": str(strokes), "radicals": radical, "pinyin": "a"}
    for i, (word, strokes, radical) in enumerate(
        [
            ("扔", 5, "扌"),
            ("打", 5, "扌"),
            ("河", 8, "氵"),
            ("江", 6, "氵"),
            ("树", 9, "木"),
            ("林", 8, "木"),
            ("妈", 6, "女"),
            ("好", 6, "女"),
            ("吃", 6, "口"),
            ("喝", 12, "口"),
        ]
    )
]


def test_heldout_set_is_deterministic_and_answers_are_right():
    first = build_character_benchmark(RECORDS, seed=0, size=4, dev=2)
    assert first == build_character_benchmark(list(reversed(RECORDS)), seed=0, size=4, dev=2)
    by_word = {r["word"]: r for r in RECORDS}
    for question in first:
        answer = question.options["ABCD".index(question.answer)]
        if question.subject == "strokes":
            assert by_word[question.question[3]]["strokes"] == answer
        else:
            assert by_word[answer]["radicals"] == question.question.split("「")[1][0]
    assert sum(q.split == "dev" for q in first) == 4 and sum(q.split == "test" for q in first) == 8


def test_k_shot_prompt_puts_solved_exemplars_before_the_question():
    questions = load_cmmlu(FIXTURES / "cmmlu")
    dev = [q for q in questions if q.split == "dev"]
    target = next(q for q in questions if q.split == "test")
    text = prompt_text(target, dev)
    assert text.count("答案是：") == 3 and text.endswith("答案是：")
    assert text.index("曹操") < text.index("三人行")
    assert "答案是：" not in prompt_text(target, []).split("题目：")[0]
