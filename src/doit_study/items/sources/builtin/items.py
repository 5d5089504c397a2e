"""Candidate items of the builtin source: the builders of every ability, interleaved and
de-duplicated, from a raw snapshot (stage annotate)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from tqdm import tqdm

from doit_study.core.schema import Item
from doit_study.core.seeding import rng_for
from doit_study.items.sources.builtin import dialogue, ethics, knowledge, language, problems
from doit_study.items.sources.builtin.material import read_snapshot

# ability -> builders (material, builder, task), interleaved round-robin; a builder with material
# reads a snapshot, one without is a pure generator. Each builder is one task family of its ability
# (`Item.task`, FLAN's unit of task count).
BUILDERS: dict[str, list[tuple[str | None, Callable, str]]] = {
    "biology": [(None, knowledge.build_biology, "biology/genetics")],
    "history": [("dynasties", knowledge.build_history, "history/reigns")],
    "code": [
        ("humaneval", problems.build_humaneval, "code/humaneval"),
        (None, problems.build_list_tasks, "code/list-tasks"),
    ],
    "creative_writing": [("idioms", language.build_creative_writing, "creative_writing/idiom-sentences")],
    "chinese": [("idioms", language.build_chinese, "chinese/idioms")],
    "understanding": [
        ("chatterbot", dialogue.build_chat_understanding, "understanding/chat"),
        ("hsk", dialogue.build_hsk_understanding, "understanding/hsk"),
    ],
    "role_play": [
        ("chatterbot", dialogue.build_chat_role_play, "role_play/chat"),
        ("dynasties", knowledge.build_monarch_role_play, "role_play/monarchs"),
        ("idioms", language.build_idiom_teacher, "role_play/idiom-teacher"),
    ],
    "reasoning": [(None, problems.build_reasoning, "reasoning/puzzles")],
    "math": [("maths", problems.build_math, "math/chalkbase")],
    "ethics": [(None, ethics.build_ethics, "ethics/conduct")],
    # out-of-domain test sets: material no training ability uses
    "ood_radicals": [("characters", language.build_ood_radicals, "ood_radicals")],
    "ood_pinyin": [("characters", language.build_ood_pinyin, "ood_pinyin")],
}
OOD_SETS = ("ood_radicals", "ood_pinyin")
MAX_ATTEMPTS_PER_ITEM = 20  # generators with few distinct outputs must end, not spin


def _with_task(items: Iterator[Item], task: str) -> Iterator[Item]:
    for item in items:
        yield item.model_copy(update={"task": task})


def _interleave(streams: list[Iterator[Item]]) -> Iterator[Item]:
    live = list(streams)
    while live:
        for stream in list(live):
            item = next(stream, None)
            if item is None:
                live.remove(stream)
            else:
                yield item


def _unique(items: Iterator[Item], count: int) -> list[Item]:
    """Up to `count` items, each a different question: distinct prompts and distinct source keys
    (a generator's key names the question, so reshuffled options of one question count once)."""
    seen: set[str] = set()
    kept: list[Item] = []
    for item in itertools.islice(items, count * MAX_ATTEMPTS_PER_ITEM):
        keys = (item.prompt_text, f"key:{item.source.name}:{item.source.key}")
        if not seen.intersection(keys):
            seen.update(keys)
            kept.append(item)
            if len(kept) == count:
                break
    return kept


def build_builtin_items(
    raw_dir: Path, manifest: dict, counts: dict[str, int], seed: int
) -> dict[str, list[Item]]:
    """Candidate items per ability (and OOD set), at most counts[name] each, deterministic in seed."""
    versions = {entry["material"]: entry["version"] for entry in manifest["materials"]}
    cache: dict[str, list[dict]] = {}
    built = {}
    for name in tqdm(sorted(counts), desc="build items", unit="ability"):
        streams = []
        for material, builder, task in BUILDERS[name]:
            rng = rng_for(seed, f"{name}:{builder.__name__}")
            if material is None:
                stream = builder(rng)
            else:
                if material not in cache:
                    cache[material] = read_snapshot(raw_dir, material)
                stream = partial(builder, cache[material])(rng, versions[material])
            streams.append(_with_task(stream, task))
        built[name] = _unique(_interleave(streams), counts[name])
    return built
