"""The multiple-choice benchmarks' questions (Section 5 of the paper), read and normalised to one
JSON Lines format so that the evaluate stage reads one thing: readers for the GitHub layouts of
CMMLU (`<root>/{dev,test}/<subject>.csv`, columns `,Question,A,B,C,D,Answer`) and AGIEval
(`<root>/<task>.jsonl` with `question`, `options` "(A)…", `label`); hub copies read with Hugging
Face `datasets` as lm-evaluation-harness reads them (`load_hub_suite`); a builder for the offline
held-out set (Chinese character facts no training ability uses); and k-shot prompts. Scoring them
is `evaluation.benchmark_scoring`'s."""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from doit_study.core.files import DataError, first_validation_error, read_json_lines
from doit_study.items.option_lists import gold_at, options_block, pick_distinct, shuffled_options

LETTERS = ("A", "B", "C", "D")
_AGIEVAL_OPTION = re.compile(r"^\s*\(?([A-D])\)\s*")


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    suite: str
    subject: str
    split: str = Field(pattern="^(dev|test)$")  # dev: k-shot exemplars; test: scored
    id: str
    question: str
    options: list[str] = Field(min_length=4, max_length=4)
    answer: str = Field(pattern="^[A-D]$")
    prompt: str | None = None  # the suite's own prompt, used verbatim (AGIEval's hub `query`)


def read_questions(path: os.PathLike | str) -> list[Question]:
    return [_question(path, line, **record) for line, record in read_json_lines(path)]


def load_cmmlu(root: os.PathLike | str, suite: str = "cmmlu") -> list[Question]:
    root = Path(root)
    files = {split: sorted((root / split).glob("*.csv")) for split in ("dev", "test")}
    if not files["test"]:
        raise DataError(root, "no test/<subject>.csv files: not a CMMLU layout")
    questions = []
    for split, paths in files.items():
        for path in paths:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                missing = {"Question", "A", "B", "C", "D", "Answer"} - set(reader.fieldnames or ())
                if missing:
                    raise DataError(path, f"missing columns {sorted(missing)}", 1, sorted(missing)[0])
                for number, row in enumerate(reader, start=2):
                    questions.append(
                        _question(
                            path,
                            number,
                            suite=suite,
                            subject=path.stem,
                            split=split,
                            id=f"{path.stem}-{split}-{number - 2}",
                            question=row["Question"],
                            options=[row[letter] for letter in LETTERS],
                            answer=row["Answer"].strip(),
                        )
                    )
    return questions


def load_agieval(
    root: os.PathLike | str, tasks: Sequence[str], dev: int, suite: str = "agieval"
) -> list[Question]:
    """Single-answer 4-option tasks; the first `dev` questions of a task are its exemplars."""
    questions = []
    for task in tasks:
        path = Path(root) / f"{task}.jsonl"
        if not path.is_file():
            raise DataError(path, f"AGIEval task {task!r} not found")
        kept = 0
        for line, record in read_json_lines(path):
            label, options = record.get("label"), record.get("options") or []
            if not isinstance(label, str) or label not in LETTERS or len(options) != 4:
                continue  # multi-answer, cloze or 5-option questions are outside letter scoring
            passage = (record.get("passage") or "").strip()
            questions.append(
                _question(
                    path,
                    line,
                    suite=suite,
                    subject=task,
                    split="dev" if kept < dev else "test",
                    id=f"{task}-{line}",
                    question=f"{passage}\n{record.get('question', '')}".strip(),
                    options=[_AGIEVAL_OPTION.sub("", option, count=1) for option in options],
                    answer=label,
                )
            )
            kept += 1
    return questions


# Hub layouts: the columns of each suite's published rows (lm-evaluation-harness's doc_to_text,
# doc_to_choice and doc_to_target read the same ones).
HUB_COLUMNS = {
    "ceval": ("question", ("A", "B", "C", "D"), "answer"),  # ceval/ceval-exam
    "cmmlu": ("Question", ("A", "B", "C", "D"), "Answer"),  # haonan-li/cmmlu
}


def _hub_fields(layout: str, row: dict) -> dict:
    """Question fields from one published row; AGIEval's hub copies (hails/agieval-<task>) hold a
    ready prompt `query`, options `choices` ("(A)…") and the answer indices `gold`."""
    if layout == "agieval":
        choices, gold = row["choices"], row["gold"]
        if len(choices) != 4 or len(gold) != 1:
            return {}  # multi-answer or 5-option questions are outside letter scoring
        options = [_AGIEVAL_OPTION.sub("", option, count=1) for option in choices]
        answer = LETTERS[gold[0]]
        return {"question": row["query"], "prompt": row["query"], "options": options, "answer": answer}
    question, letters, answer = HUB_COLUMNS[layout]
    options = [row[k] for k in letters]
    return {"question": row[question], "options": options, "answer": str(row[answer]).strip()}


def load_hub_suite(spec) -> list[Question]:
    """A suite from a Hugging Face dataset (a hub id at a pinned commit, or a local folder in the
    same layout): per subject, the dev exemplars and the scored split (`HubSuite` in config)."""
    from datasets import load_dataset

    questions = []
    for subject in spec.subjects:
        path = spec.path.replace("{subject}", subject)
        config = None if "{subject}" in spec.path else subject
        pinned = {"revision": spec.revision} if spec.revision else {}
        scored = list(load_dataset(path, config, split=spec.test_split, **pinned))
        if spec.dev_split:
            splits = {"dev": list(load_dataset(path, config, split=spec.dev_split, **pinned))[: spec.dev]}
        else:  # no dev split: the first rows of the scored split are the exemplars
            splits, scored = {"dev": scored[: spec.dev]}, scored[spec.dev :]
        splits["test"] = scored
        for split, rows in splits.items():
            read_from = spec.test_split if split == "test" or not spec.dev_split else spec.dev_split
            where = f"{path}[{config or 'default'}:{read_from}]"
            for number, row in enumerate(rows, start=1):
                fields = _hub_fields(spec.layout, row)
                if fields:
                    ident = f"{subject}-{split}-{number}"
                    common = {"suite": spec.suite, "subject": subject, "split": split, "id": ident}
                    questions.append(_question(where, number, **common, **fields))
    return questions


def _question(path: os.PathLike | str, line: int, **fields) -> Question:
    try:
        return Question(**fields)
    except ValidationError as error:
        field, message = first_validation_error(error)
        raise DataError(path, message, line, field) from None


def build_character_benchmark(records: Sequence[dict], seed: int, size: int, dev: int) -> list[Question]:
    """The offline held-out set: stroke counts and radicals-to-characters from the character
    dictionary. No training ability asks about strokes, and the radical question runs the opposite
    way to the ood_radicals test set (pick the character, not the radical)."""
    rng = random.Random(f"{seed}:benchmark")
    characters = sorted(
        (r for r in records if len(r.get("word", "")) == 1 and str(r.get("strokes", "")).isdigit()),
        key=lambda r: r["key"],
    )
    questions = []
    for subject, make in (("strokes", _strokes_question), ("radical_to_character", _radical_question)):
        made = 0
        for record in rng.sample(characters, len(characters)):
            built = make(record, characters, rng)
            if built is None:
                continue
            question, options, answer = built
            options, answer = gold_at(
                options, answer, made % len(options)
            )  # golds rotate: A, B, C, D, A, ...
            split = "dev" if made < dev else "test"
            questions.append(
                Question(
                    suite="heldout",
                    subject=subject,
                    split=split,
                    id=f"{subject}-{record['key']}",
                    question=question,
                    options=options,
                    answer=answer,
                )
            )
            made += 1
            if made == dev + size:
                break
    return questions


def _strokes_question(record: dict, characters, rng: random.Random):
    strokes = int(record["strokes"])
    nearby = [n for n in range(strokes - 4, strokes + 5) if n > 0 and n != strokes]
    wrong = [str(n) for n in rng.sample(nearby, 3)]
    options, letter = shuffled_options(rng, str(strokes), wrong)
    return f"汉字「{record['word']}」共有几画？", options, letter


def _radical_question(record: dict, characters, rng: random.Random):
    radical = record.get("radicals") or ""
    if not radical or radical == record["word"]:
        return None
    others = [r["word"] for r in characters if r.get("radicals") and r["radicals"] != radical]
    wrong = pick_distinct(rng, others, 3, record["word"])
    if wrong is None:
        return None
    options, letter = shuffled_options(rng, record["word"], wrong)
    return f"下列汉字中，部首是「{radical}」的是：", options, letter


def _render(question: Question, with_answer: bool) -> str:
    text = question.prompt or f"题目：{question.question}\n{options_block(question.options)}\n答案是："
    return text + question.answer if with_answer else text


def prompt_text(question: Question, exemplars: Sequence[Question]) -> str:
    """The CMMLU prompt: a header, k solved exemplars, then the question ending in 答案是：. A suite
    with its own prompts (AGIEval's hub copies) is given them as they are, exemplars first."""
    header = f"以下是关于{question.subject}的单项选择题，请直接给出正确答案的选项。"
    header = [] if question.prompt else [header]
    blocks = [*header, *(_render(e, True) for e in exemplars), _render(question, False)]
    return "\n\n".join(blocks)


def exemplars_by_subject(questions: Sequence[Question]) -> dict[tuple[str, str], list[Question]]:
    found: dict[tuple[str, str], list[Question]] = {}
    for question in questions:
        if question.split == "dev":
            found.setdefault((question.suite, question.subject), []).append(question)
    return found
