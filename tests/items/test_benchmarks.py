"""Benchmark layouts (CMMLU, AGIEval), the offline held-out set and k-shot prompts."""

import pytest

from doit_study.core.files import DataError
from doit_study.items.benchmarks import build_character_benchmark, load_agieval, load_cmmlu, prompt_text
from tests.fixtures.make_hub_fixtures import hub_folder
from tests.helpers import FIXTURES


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
    # the golds rotate through the positions: every letter holds the answer equally often
    for subject in ("strokes", "radical_to_character"):
        answers = [q.answer for q in first if q.subject == subject]
        assert answers == ["A", "B", "C", "D", "A", "B"]


def test_k_shot_prompt_puts_solved_exemplars_before_the_question():
    questions = load_cmmlu(FIXTURES / "cmmlu")
    dev = [q for q in questions if q.split == "dev"]
    target = next(q for q in questions if q.split == "test")
    text = prompt_text(target, dev)
    assert text.count("答案是：") == 3 and text.endswith("答案是：")
    assert text.index("曹操") < text.index("三人行")
    assert "答案是：" not in prompt_text(target, []).split("题目：")[0]


# Hub layouts, offline: local folders laid out as the hub repositories are (a README whose YAML
# `configs` map each config's splits to parquet files, as `push_to_hub` writes them), read through
# `datasets.load_dataset` exactly as a hub id at a pinned commit is (tests/fixtures/make_hub_fixtures.py).
CEVAL = FIXTURES / "hub/ceval-exam"


def _suite(**fields):
    from doit_study.params.benchmark import HubSuite

    return HubSuite(**{"revision": None, "dev": 5, **fields})


def _ceval_physician(test_split: str):
    return _suite(
        suite="ceval",
        layout="ceval",
        path=str(CEVAL),
        subjects=["physician"],
        test_split=test_split,
        dev_split="dev",
    )


def test_c_eval_from_its_hub_layout_scores_val_with_dev_exemplars():
    from doit_study.items.benchmarks import load_hub_suite

    spec = _ceval_physician(test_split="val")
    questions = load_hub_suite(spec)
    assert [(q.split, q.answer) for q in questions] == [
        ("dev", "A"),
        ("dev", "B"),
        ("dev", "C"),
        ("dev", "D"),
        ("dev", "A"),
        ("test", "B"),
        ("test", "B"),
        ("test", "B"),
    ]
    assert questions[5].options == ["35℃", "37℃", "39℃", "41℃"] and questions[5].subject == "physician"
    assert "例题0" in prompt_text(questions[5], questions[:5])


def test_c_eval_test_split_without_labels_is_refused_with_its_row():
    from doit_study.items.benchmarks import load_hub_suite

    spec = _ceval_physician(test_split="test")
    with pytest.raises(DataError, match=r"physician:test\]:1: answer"):
        load_hub_suite(spec)


def test_cmmlu_from_its_hub_layout(tmp_path):
    from doit_study.items.benchmarks import load_hub_suite

    row = {"Question": "“学而时习之”出自", "A": "孟子", "B": "论语", "C": "庄子", "D": "荀子", "Answer": "B"}
    folder = hub_folder(tmp_path / "cmmlu", {"ancient_chinese": {"test": [row] * 3, "dev": [row] * 5}})
    spec = _suite(
        suite="cmmlu",
        layout="cmmlu",
        path=str(folder),
        subjects=["ancient_chinese"],
        test_split="test",
        dev_split="dev",
        dev=2,
    )
    questions = load_hub_suite(spec)
    assert [q.split for q in questions] == ["dev", "dev", "test", "test", "test"]
    assert {q.answer for q in questions} == {"B"} and questions[0].options[1] == "论语"


def test_agieval_from_its_hub_layout_keeps_the_ready_prompt(tmp_path):
    from doit_study.items.benchmarks import load_hub_suite

    query = (
        "问题：所有的鸟都会飞，企鹅是鸟。由此可知：选项：(A)企鹅会飞(B)企鹅不会飞(C)无法判断(D)企鹅不是鸟\n"
        "答案：从A到D, 我们应选择"
    )
    rows = [
        {
            "query": query,
            "choices": ["(A)企鹅会飞", "(B)企鹅不会飞", "(C)无法判断", "(D)企鹅不是鸟"],
            "gold": [0],
        },
        {"query": query, "choices": ["(A)甲", "(B)乙", "(C)丙", "(D)丁", "(E)戊"], "gold": [4]},  # 5 options
        {"query": query, "choices": ["(A)甲", "(B)乙", "(C)丙", "(D)丁"], "gold": [2]},
        {"query": query, "choices": ["(A)甲", "(B)乙", "(C)丙", "(D)丁"], "gold": [1, 2]},  # several answers
    ]
    hub_folder(tmp_path / "agieval-logiqa-zh", {"default": {"test": rows}})
    spec = _suite(
        suite="agieval",
        layout="agieval",
        path=str(tmp_path / "agieval-{subject}"),
        subjects=["logiqa-zh"],
        test_split="test",
        dev_split=None,
        dev=1,
    )
    questions = load_hub_suite(spec)
    assert [(q.split, q.answer) for q in questions] == [("dev", "A"), ("test", "C")]
    assert questions[0].options[1] == "企鹅不会飞"
    assert prompt_text(questions[1], questions[:1]) == f"{query}A\n\n{query}"


def test_a_hub_id_must_be_pinned_to_a_commit():
    with pytest.raises(ValueError, match="pinned 40-hex commit"):
        _suite(
            suite="ceval",
            layout="ceval",
            path="ceval/ceval-exam",
            subjects=["physician"],
            test_split="val",
            dev_split="dev",
            revision="main",
        )
