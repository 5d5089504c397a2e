"""Answer parsing by answer kind: one parser per kind, used to validate golds and to score outputs.

Each parser returns a canonical value, or None when the text does not parse.
"""

from __future__ import annotations

import re

from math_verify import parse as math_parse
from math_verify import verify as math_verify

from doit_study.schema import AnswerKind

_LETTER = re.compile(r"(?<![A-Za-z])([A-D])(?![A-Za-z])")
_MULTI_LETTER = re.compile(r"(?<![A-Za-z])([A-F])(?![A-Za-z])")
_LIST_PUNCTUATION = re.compile(r"[\s,，、;；.。:：()（）]+")
_TRUE_MARKERS = ("正确", "对", "T", "√", "V")
_FALSE_MARKERS = ("错误", "错", "F", "×", "X")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_MATH_MARKER = "答案"


def parse_letter(text: str) -> str | None:
    """The first standalone letter A-D ("B", "答案：B", "(B) 细胞核")."""
    match = _LETTER.search(text)
    return match.group(1) if match else None


def parse_multi_letter(text: str) -> str | None:
    """The set of letters on the last non-blank line, as a sorted string: "ACD", "A、C、D" and
    "答案：A C D" all give "ACD"."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1].rsplit(_MATH_MARKER, 1)[-1]
    compact = _LIST_PUNCTUATION.sub("", last)
    letters = compact if re.fullmatch(r"[A-F]+", compact) else "".join(_MULTI_LETTER.findall(last))
    return "".join(sorted(set(letters))) or None


def parse_true_false(text: str) -> str | None:
    """ "T" or "F" from the Chinese markers; None when both kinds or neither appear."""
    remaining = text
    found_false = False
    for marker in _FALSE_MARKERS:  # longest first, so 错误 is consumed before 错
        if marker in remaining:
            found_false = True
            remaining = remaining.replace(marker, " ")
    found_true = any(marker in remaining for marker in _TRUE_MARKERS)
    if found_true == found_false:
        return None
    return "T" if found_true else "F"


def parse_fill(text: str) -> str | None:
    """The first run of CJK characters."""
    match = _CJK_RUN.search(text)
    return match.group(0) if match else None


def _math_tail(text: str) -> str:
    """The part of a chain of thought that states the final answer."""
    boxed = text.rfind("\\boxed")
    if boxed >= 0:
        return text[boxed:]
    if _MATH_MARKER in text:
        tail = text.rsplit(_MATH_MARKER, 1)[1]
        return tail.lstrip("：: 是为").strip()
    return text


def parse_math(text: str) -> list | None:
    """Parsed final answer (math-verify's representation), or None."""
    tail = _math_tail(text)
    parsed = math_parse(tail)
    if not _has_math(parsed) and "$" not in tail:
        parsed = math_parse(f"${tail.strip()}$")
    return parsed if _has_math(parsed) else None


def _has_math(parsed: list) -> bool:
    # math-verify falls back to the raw string when nothing mathematical was found
    return any(not isinstance(value, str) for value in parsed)


def math_equivalent(predicted: str, gold: str) -> bool:
    left, right = parse_math(predicted), parse_math(gold)
    return bool(left and right and math_verify(right, left))


PARSERS = {
    AnswerKind.letter: parse_letter,
    AnswerKind.multi_letter: parse_multi_letter,
    AnswerKind.true_false: parse_true_false,
    AnswerKind.fill: parse_fill,
    AnswerKind.math: parse_math,
    AnswerKind.open: lambda text: text.strip() or None,
}


def parse_answer(kind: AnswerKind, text: str):
    return PARSERS[kind](text)
