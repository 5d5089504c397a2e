import pytest

from doit_study.answers import (
    math_equivalent,
    parse_fill,
    parse_letter,
    parse_math,
    parse_multi_letter,
    parse_true_false,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", "B"),
        ("答案：C", "C"),
        ("(D) 细胞核", "D"),
        ("我选A。", "A"),
        ("Because of this", None),
        ("", None),
    ],
)
def test_parse_letter(text, expected):
    assert parse_letter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACD", "ACD"),
        ("A、C、D", "ACD"),
        ("分析如下\n答案：B D", "BD"),
        ("DCA", "ACD"),
        ("A 和 C 都对\n最终：A,C", "AC"),
        ("没有答案", None),
    ],
)
def test_parse_multi_letter_reads_the_last_line(text, expected):
    assert parse_multi_letter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("正确", "T"),
        ("对", "T"),
        ("T", "T"),
        ("√", "T"),
        ("V", "T"),
        ("错误", "F"),
        ("错", "F"),
        ("F", "F"),
        ("×", "F"),
        ("X", "F"),
        ("这句话是错误的", "F"),
        ("既对又错", None),
        ("不知道", None),
    ],
)
def test_parse_true_false_markers(text, expected):
    assert parse_true_false(text) == expected


def test_parse_fill_takes_the_first_cjk_run():
    assert parse_fill("足。") == "足"
    assert parse_fill("答：画蛇添足") == "答"
    assert parse_fill("123") is None


def test_math_final_answer_after_marker_or_boxed():
    assert parse_math("先算乘法，8 × 5 = 40\n答案：40")[0] == 40
    assert math_equivalent("答案：0.75", "答案：3/4")
    assert math_equivalent("所以结果是 \\boxed{\\frac{1}{2}}", "0.5")
    assert not math_equivalent("答案：41", "答案：40")
    assert parse_math("答案：无法计算") is None
