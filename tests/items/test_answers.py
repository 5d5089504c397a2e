"""Answers judged as a careful grader would: hand-written outputs of the kinds fine-tuned models
write, each with the verdict a person marking the answer would give, wrong answers that look close
to right among them. `judge` is the function the evaluation uses."""

import pytest

from doit_study.core.schema import AnswerKind
from doit_study.evaluation.item_scoring import compare_answer
from doit_study.items.answers import (
    final_answer,
    math_value,
    parse_fill,
    parse_multi_letter,
    parse_true_false,
    stated_final_answer,
)

LETTER = [
    # (output, gold, correct)
    ("B", "B", True),
    ("b", "B", True),
    ("Ｂ", "B", True),  # full-width
    ("(B)", "B", True),
    ("B。", "B", True),
    ("【C】", "C", True),
    ("答案：C", "C", True),
    ("答案是C。", "C", True),
    ("答案:c", "C", True),
    ("答案为（D）", "D", True),
    ("选B", "B", True),
    ("我选A。", "A", True),
    ("故选D", "D", True),
    ("应选择C，因为细胞核控制遗传。", "C", True),
    ("B. 细胞核", "B", True),
    ("(D) 细胞核", "D", True),
    ("我认为是C", "C", True),
    ("A项错误，B项错误，C项正确，答案是C", "C", True),
    ("A和B都不对，D也不对，正确答案是C", "C", True),
    ("A选项描述的是细胞壁，不符合题意；故选B", "B", True),
    ("不选A，选B", "B", True),
    ("排除A、B、D，选C", "C", True),
    ("The answer is (A)", "A", True),
    ("A项错误，B项也不对", "C", False),  # no commitment: eliminations only
    ("A选项说的是细胞壁，B选项说的是细胞膜", "B", False),  # mentions two letters, commits to none
    ("答案：B", "C", False),
    ("选项A是错误的，答案是D", "A", False),  # names A before committing to D
    ("ATP是能量货币", "A", False),  # A inside a Latin word is not a letter
    ("细胞核", "B", False),
    ("", "A", False),
]

MULTI = [
    ("ACD", "分析：A、C、D 都是诚实守信的表现，B 违背诚信。\nACD", True),
    ("A、C、D", "ACD", True),
    ("DCA", "ACD", True),
    ("选AC", "AC", True),
    ("A和C", "AC", True),
    ("答案：a c d", "ACD", True),
    ("分析：按时还款和信守承诺都体现诚信。\n答案：A、C", "AC", True),
    ("分析：B 违背诚信。\nA,C,D", "ACD", True),
    ("A和C都是恰当的做法", "AC", True),
    ("（A）（C）", "AC", True),
    ("AC", "ACD", False),  # a subset is wrong
    ("ABCD", "ACD", False),  # a superset is wrong
    ("A正确，B错误，C正确", "AC", False),  # letters scattered over verdicts: no committed set
    ("分析：A、C 恰当\n我不确定", "AC", False),  # the last line commits to nothing
    ("B", "B", True),
    ("BD", "分析：让座和归还失物是恰当的。\nBD", True),
]

TRUE_FALSE = [
    ("正确", "正确", True),
    ("对", "√", True),
    ("T", "正确", True),
    ("√", "对", True),
    ("错误", "×", True),
    ("错", "错误", True),
    ("F", "错误", True),
    ("×", "错", True),
    ("不对", "错误", True),  # a negated marker is a false verdict
    ("不正确", "×", True),
    ("这个说法不正确。", "错误", True),
    ("没错", "正确", True),
    ("答案：错误", "错误", True),
    ("错误。秦朝统一六国是在公元前221年，题干中的说法才是对的说法的反面", "错误", True),
    ("这句话是错误的", "错误", True),
    ("该说法正确，郑和下西洋发生在明朝。", "√", True),
    ("正确的说法是：北宋的都城是开封，所以题干错误", "错误", True),
    ("不对", "正确", False),  # negation read, not the marker inside it
    ("不正确", "正确", False),
    ("对", "错误", False),
    ("既对又错", "正确", False),  # no single verdict
    ("不知道", "正确", False),
    ("对于这个问题，我不确定", "正确", False),  # 对于 is not a verdict
]

FILL = [
    ("氧气", "氧气", True),
    ("答案：氧气", "氧气", True),
    ("答案是：氧气。", "氧气", True),
    ("氧气。", "氧气", True),
    ("填“足”", "足", True),
    ("应填：足", "足", True),
    ("足。这是成语画蛇添足。", "足", True),
    ("Ｏ2是氧气", "氧气", False),
    ("氧", "氧气", False),  # part of the gold
    ("氧气和氮气", "氧气", False),  # the gold plus more
    ("答案：氮气", "氧气", False),
    ("二氧化碳", "氧气", False),  # contains the gold's characters, is not the gold
]

MATH = [
    ("长方形面积等于长乘宽。\n8 × 5 = 40\n答案：40", "40", True),
    ("答案：0.75", "\\frac{3}{4}", True),
    ("答案：3/4", "\\frac{3}{4}", True),
    ("所以结果是 \\boxed{\\frac{1}{2}}", "\\frac{1}{2}", True),
    ("答案：$2\\sqrt{3}$", "2\\sqrt{3}", True),
    ("答案：2\\sqrt{3}", "2\\sqrt{3}", True),
    ("答案：\\sqrt{12}", "2\\sqrt{3}", True),
    ("答案：$\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}$", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", True),
    ("答案：40平方厘米", "40", True),  # a unit after the value
    ("答案：x = 5", "5", True),
    ("答案：\\dfrac{1}{2}", "\\frac{1}{2}", True),
    ("答案：-3", "-3", True),
    ("两个解分别是5和7\n答案：5和7", "5, 7", True),
    ("答案：2", "2\\sqrt{3}", False),  # only the leading number of the gold
    ("答案：2\\sqrt{3}", "2", False),
    ("答案：41", "40", False),
    ("答案：\\frac{4}{3}", "\\frac{3}{4}", False),
    ("答案：5", "5, 7", False),  # one of two solutions
    ("答案：$\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}$", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False),
    ("先算 8 × 5 = 40，再减去 1\n答案：39", "40", False),  # the right number appears earlier
    ("答案：无法计算", "40", False),
]

CASES = (
    [(AnswerKind.letter, *case) for case in LETTER]
    + [(AnswerKind.multi_letter, *case) for case in MULTI]
    + [(AnswerKind.true_false, *case) for case in TRUE_FALSE]
    + [(AnswerKind.fill, *case) for case in FILL]
    + [(AnswerKind.math, *case) for case in MATH]
)


def test_there_are_at_least_eighty_hand_written_cases():
    assert len(CASES) >= 80
    assert {kind for kind, *_ in CASES} == set(AnswerKind) - {AnswerKind.open}


@pytest.mark.parametrize(("kind", "output", "gold", "correct"), CASES, ids=lambda v: str(v)[:30])
def test_a_careful_grader_agrees(kind, output, gold, correct):
    assert compare_answer(kind, output, gold)[0] is correct


@pytest.mark.parametrize(
    ("text", "expected"),
    [("分析如下\n答案：B D", "BD"), ("A 和 C 都对\n最终：A,C", "AC"), ("没有答案", None), ("ATP", None)],
)
def test_multi_letter_sets(text, expected):
    assert parse_multi_letter(text) == expected


def test_unparsable_answers_are_counted_unparsed_not_guessed():
    assert compare_answer(AnswerKind.letter, "A选项说的是细胞壁，B选项说的是细胞膜", "A") == (
        False,
        True,
        None,
    )
    assert parse_true_false("既对又错") is None
    assert parse_fill("123") is None


def test_the_fill_in_answer_after_its_prefix():
    assert parse_fill("答案：氧气") == "氧气"
    assert parse_fill("答：画蛇添足") == "画蛇添足"


def test_a_bare_latex_answer_is_read_whole():
    assert str(math_value("2\\sqrt{3}")[0]) == "2*sqrt(3)"
    assert math_value("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}")[0].shape == (2, 1)
    assert final_answer("8 × 5 = 40\n答案：40\n") == "40"
    assert final_answer("所以 \\boxed{\\frac{1}{2}} 就是结果") == "\\boxed{\\frac{1}{2}}"


@pytest.mark.parametrize(
    ("solution", "answer", "expected"),
    [
        ("所以 $x = \\boxed{3}$", "3", None),
        ("所以 $x = \\boxed{3}$", "4", ("\\boxed{3}", True)),
        ("$x^2=9$，正根为 $3$。\n# Answer\n\n3", "-3", ("3", True)),
        ("面积 = 8 × 5 = 40。\n答案：40", "41", ("40", False)),
        ("无从计算。", "5", None),
    ],
)
def test_a_solution_stating_another_final_value_is_found_and_how_certain(solution, answer, expected):
    assert stated_final_answer(solution, answer) == expected
