"""Answer parsing by answer kind, as a careful grader reads an answer: one parser per kind, used to
validate golds and to judge what a model wrote.

Every text is NFKC-normalised first (full-width letters, digits and punctuation become their ASCII
forms). A parser takes the answer the text commits to ("答案：C", "选AC", a leading "B." or a bare
letter), not the first letter it mentions; a text that names several answers without committing to
one does not parse (None), and is counted wrong and unparsed. Each parser returns a canonical value.
"""

from __future__ import annotations

import re
import unicodedata

from doit_study.core.schema import AnswerKind

LETTERS = "ABCD"
MULTI_LETTERS = "ABCDEF"
MARKER = "答案"
_EDGE = r"(?<![A-Za-z])", r"(?![A-Za-z])"  # a letter standing alone, not part of a Latin word
_BRACKETS = "()[]【】「」『』“”\"'‘’<>《》"
_NEGATED = re.compile(r"(?:不|不能|不应|不应该|不可|不会|别|没有?)\s*$")


def normalise(text: str) -> str:
    """Width folded (NFKC): "Ａ" -> "A", "：" -> ":", "（" -> "("."""
    return unicodedata.normalize("NFKC", text)


def bare_answer(text: str) -> str:
    """The text without spaces, brackets and surrounding punctuation: "(B)。" -> "B"."""
    text = normalise(text)
    stripped = "".join(ch for ch in text if not ch.isspace() and ch not in _BRACKETS)
    return stripped.strip(".,;:!?。，；：！？、")


def after_marker(text: str) -> str | None:
    """The first line after the last "答案" (answer) marker, without "是", "为" and colons."""
    if MARKER not in text:
        return None
    tail = text.rsplit(MARKER, 1)[1]
    tail = re.sub(r"^\s*(?:应该?)?(?:是|为|选)?\s*[:=]?\s*", "", tail)
    return tail.strip().split("\n", 1)[0].strip()


# ---- letters (single choice) ----

_COMMIT = (
    r"答案\s*(?:应该?)?(?:是|为|选)?\s*[:=]?\s*[(\[【]?\s*(?P<l1>[A-Fa-f])",
    r"(?P<pre>[^\n]{0,3})选(?!项)\s*(?:择)?\s*[:=]?\s*[(\[【]?\s*(?P<l2>[A-Fa-f])",
    r"(?P<l3>[A-F])\s*(?:项|选项)?\s*(?:是|为)?\s*(?:正确|对的|最恰当|最合适|最佳|符合题意)",
    r"(?:正确|最佳|最恰当|最合适)(?:的)?(?:答案|选项|一项|是)\s*(?:是|为)?\s*[:=]?\s*[(\[【]?(?P<l4>[A-F])",
    r"(?i:answer\s*(?:is)?\s*[:=]?\s*)[(\[]?(?P<l5>[A-F])",
)
_COMMIT_RE = [re.compile(pattern + _EDGE[1]) for pattern in _COMMIT]
_LEADING = re.compile(r"^\s*[(\[【]?\s*([A-F])\s*(?:[)\]】.:,;、。]|\s|$)")
_NAMED = re.compile(_EDGE[0] + r"([A-F])" + _EDGE[1])
_REJECTED = re.compile(r"^\s*(?:项|选项)?\s*(?:是|为)?\s*(?:错误|不正确|不对|错|不符合|不恰当)")
_EXCLUDING = re.compile(r"(?:排除|不选|除了?|除去)\s*$")


def _committed_letters(text: str, allowed: str) -> list[tuple[int, str]]:
    """(position, letter) of every phrase that commits to a letter, negated ones ("不选A") left out."""
    found = []
    for pattern in _COMMIT_RE:
        for match in pattern.finditer(text):
            name = next(key for key, value in match.groupdict().items() if value and key != "pre")
            letter = match.group(name).upper()
            if letter not in allowed or _NEGATED.search(match.groupdict().get("pre") or ""):
                continue
            found.append((match.start(name), letter))
    return sorted(found)


def parse_letter(text: str, allowed: str = LETTERS) -> str | None:
    """The single letter the answer commits to: a bare letter ("B", "b", "(B)。"), the last
    commitment ("答案：C", "故选D", "C项正确"), a leading letter ("B. 细胞核"), or else the one letter
    the text names. Several letters with no commitment: None."""
    text = normalise(text)
    bare = bare_answer(text)
    if len(bare) == 1 and bare.upper() in allowed:
        return bare.upper()
    committed = _committed_letters(text, allowed)
    if committed:
        return committed[-1][1]
    leading = _LEADING.match(text)
    if leading and leading.group(1) in allowed:
        return leading.group(1)
    named = {
        m.group(1)
        for m in _NAMED.finditer(text)
        if not _REJECTED.match(text, m.end()) and not _EXCLUDING.search(text, 0, m.start())
    }
    return named.pop() if len(named) == 1 and named <= set(allowed) else None


# ---- several letters (multiple choice) ----

_JOINERS = r"(?:\s*(?:、|,|和|与|及|以及|&|\+|/|;)\s*|\s+)"
_RUN = re.compile(_EDGE[0] + rf"[A-F]+(?:{_JOINERS}[A-F]+)*" + _EDGE[1])
_FILLER = re.compile(  # words around a list of letters: "因此选择A、C。" -> "AC"
    r"应该?选|选项|选择|故选|所以|因此|都是|都|均|选|是|为|项|:|\s|[()\[\]【】.,、;和与及&+/。!]"
)


def parse_multi_letter(text: str) -> str | None:
    """The set of letters of the committed answer, sorted: the line after the last "答案", else the
    last non-blank line ("ACD", "A、C、D", "选AC", "A和C", "答案：a c d"). That line must hold one run
    of letters; letters scattered over the line ("A正确，B错误，C正确") do not parse."""
    text = normalise(text)
    line = after_marker(text)
    if line is None:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return None
        line = lines[-1]
    compact = _FILLER.sub("", line)
    if re.fullmatch(r"[A-Fa-f]+", compact):
        return "".join(sorted(set(compact.upper())))
    runs = _RUN.findall(line)
    if len(runs) != 1:
        return None
    return "".join(sorted(set(re.sub(r"[^A-F]", "", runs[0]))))


# ---- true / false ----

TRUE_MARKERS = ("正确", "对", "T", "√", "V")  # the release's markers (fact sheet)
FALSE_MARKERS = ("错误", "错", "F", "×", "X")
_BARE_VERDICT = dict.fromkeys((*TRUE_MARKERS, "对的", "✓", "TRUE"), "T") | dict.fromkeys(
    (*FALSE_MARKERS, "错的", "✗", "FALSE"), "F"
)
_AFTER = r"(?=[又也或还,.;!?。，；！？\s]|$)"  # a one-character verdict ends there: 对。 对，但 既对又错
_VERDICTS = (  # tried at each position in this order: negated and longer forms first
    (
        "F",
        r"不正确|不对|不是正确|并不正确|并非正确|不成立|不符合|有误|错误|错的|是错|说法错"
        rf"|(?<![交过])错{_AFTER}|[×✗✘]",
    ),
    ("T", rf"没错|不错|正确|对的|是对|说法对|成立|(?<![反针相绝面应核校比])对{_AFTER}|[√✓✔]"),
)
_VERDICT_RE = re.compile("|".join(f"(?P<{verdict}{k}>{p})" for k, (verdict, p) in enumerate(_VERDICTS)))
_NOT_A_VERDICT = re.compile(r"正确(?:的)?(?:说法|答案|选项|表述|做法|观点|写法)|正确与否|对错")
_LEAD = re.compile(r"^\s*(?:判断|结论|这句话|该说法|题干)?\s*[:]?\s*")


def parse_true_false(text: str) -> str | None:
    """ "T" or "F" from the judgement the text makes: a bare marker (正确 对 T √ V; 错误 错 F × X),
    the marker after "答案", a negated marker ("不对", "不正确": F; "没错": T), a leading verdict
    ("错误。因为……"), or verdicts that all agree. "正确的说法是" states no verdict. Conflicting
    verdicts ("既对又错"): None."""
    text = normalise(text)
    bare = bare_answer(text)
    if bare in _BARE_VERDICT or bare.upper() in _BARE_VERDICT:
        return _BARE_VERDICT.get(bare) or _BARE_VERDICT[bare.upper()]
    committed = after_marker(text)
    if committed:
        found = parse_true_false(committed)
        if found:
            return found
    cleaned = _NOT_A_VERDICT.sub(" ", text)
    verdicts = [(m.start(), m.lastgroup[0]) for m in _VERDICT_RE.finditer(cleaned)]
    if not verdicts:
        return None
    if verdicts[0][0] == _LEAD.match(cleaned).end():
        return verdicts[0][1]
    kinds = {verdict for _, verdict in verdicts}
    return kinds.pop() if len(kinds) == 1 else None


# ---- fill in the blank ----

_FILL_PREFIX = re.compile(r"^\s*(?:答案|答|应该?填(?:写|入)?|填(?:写|入)?|是|为)\s*(?:是|为)?\s*[:]?\s*")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]+")


def parse_fill(text: str) -> str | None:
    """The filled-in word: the first run of Chinese characters after any "答案：" or "填" prefix and
    opening quotes ("答案：氧气。" -> "氧气"). Judged by equality, never by containment."""
    text = normalise(text)
    committed = after_marker(text)
    head = committed if committed else text
    head = _FILL_PREFIX.sub("", head.strip()).lstrip(_BRACKETS + " ")
    match = _CJK_RUN.match(head) or _CJK_RUN.search(head)
    return match.group(0) if match else None


# ---- maths ----

_ANSWER_LINE = re.compile(r"^# Answer\s*$", re.MULTILINE)  # PRM800K: the final answer follows
_TRAILING_WORDS = re.compile(r"[\u4e00-\u9fff]+[。.!]?$")  # a unit after the value: 平方厘米, 个, 元


def _boxed(text: str) -> str | None:
    """The last \\boxed{...} with its braces balanced."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    depth, opened = 0, False
    for index in range(start, len(text)):
        if text[index] == "{":
            depth, opened = depth + 1, True
        elif text[index] == "}":
            depth -= 1
            if opened and depth == 0:
                return text[start : index + 1]
    return None


def final_answer(text: str) -> str:
    """Where a chain of thought states its result: the last \\boxed{...}, else the line after the
    last "答案", else the last non-blank line."""
    text = normalise(text).strip()
    boxed = _boxed(text)
    if boxed:
        return boxed
    committed = after_marker(text)
    if committed is not None:
        return committed
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _has_math(parsed: list) -> bool:
    # math-verify falls back to the raw string when nothing mathematical was found
    return any(not isinstance(value, str) for value in parsed)


def math_value(answer: str) -> list | None:
    """A final answer parsed by math-verify. A bare answer without $ signs (PRM800K's `answer`
    field: "2\\sqrt{3}", "\\frac{3}{4}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}") is read as LaTeX as
    a whole, so "2\\sqrt{3}" is 2√3, never its leading 2; a trailing unit ("40平方厘米") and "和"
    between values ("5和7": the set {5, 7}) are read as a grader would."""
    if (parsed := _PARSED.get(answer)) is None:
        parsed = _math_value(answer)
        # kept only when it parsed: math-verify gives nothing on a timeout (a busy machine), and that
        # must not stick to the answer for every later checkpoint
        if parsed is not None and len(_PARSED) < PARSED_KEPT:
            _PARSED[answer] = parsed
    return list(parsed) if parsed is not None else None


# a gold answer is parsed again for every checkpoint that is scored (math-verify: 20 ms each)
PARSED_KEPT = 100_000
_PARSED: dict[str, tuple] = {}


def _math_value(answer: str) -> tuple | None:
    text = normalise(answer).strip().rstrip("。.")
    text = re.sub(r"^(?:是|为|等于)\s*", "", text)
    text = re.sub(r"(?<=[\d}$])\s*(?:和|或|、)\s*(?=[-\d\\$])", ", ", text)
    text = _TRAILING_WORDS.sub("", text).strip()
    if not text:
        return None
    # math-verify brings sympy (a quarter of a second on 2 cores): imported when a maths answer is read
    from math_verify import LatexExtractionConfig
    from math_verify import parse as math_parse

    if "$" in text or "\\boxed" in text:
        parsed = math_parse(text)
    else:
        parsed = math_parse(f"${text}$", extraction_config=[LatexExtractionConfig()])
        if not _has_math(parsed):
            parsed = math_parse(text)
    return tuple(parsed) if _has_math(parsed) else None


def parse_math(text: str) -> list | None:
    """The final answer of a chain of thought (or a bare answer), parsed; None when it has none."""
    return math_value(final_answer(text))


def math_equivalent(predicted: str, gold_answer: str) -> bool:
    """The model's final answer and the gold answer are mathematically equal (math-verify)."""
    from math_verify import verify

    left, right = parse_math(predicted), math_value(final_answer(gold_answer))
    return bool(left and right and verify(right, left))


def stated_final_answer(solution: str, answer: str) -> tuple[str, bool] | None:
    """(the solution's final value, whether its format states it for certain) when it disagrees
    with the item's `answer`; None when they agree or the solution states no value. \\boxed{} and
    PRM800K's "# Answer" line are certain; a last line or "答案" may be a remark, so it is a warning."""
    if parse_math(solution) is None or math_equivalent(solution, answer):
        return None
    certain = _boxed(normalise(solution)) is not None or bool(_ANSWER_LINE.search(solution))
    return final_answer(solution), certain


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
