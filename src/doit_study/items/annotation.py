"""Automatic annotation: ids, filters (the analogue of the paper's human filtering), cross-split
de-duplication, deterministic splits and distractors. Pure functions over items."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from doit_study.core.files import DataError, sha256_text
from doit_study.core.schema import ABILITIES, AnswerKind, Item
from doit_study.core.seeding import rng_for
from doit_study.items.answers import parse_answer, stated_final_answer
from doit_study.items.distractors import with_distractors

SPLITS = ("train", "valid", "test")
# Eval items are seen first, so an item shared with train is dropped from train, not from eval.
_DEDUP_ORDER = {"test": 0, "valid": 1, None: 2, "train": 3, "synthetic": 4}
_PUNCTUATION_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)
_OPTION_LINE = re.compile(r"^[a-f](?=[^a-z])")  # an option line after folding: "b细胞核" from "B. 细胞核"


def item_id(item: Item) -> str:
    """Content-derived id: identical content gets the same id in any order, on any machine."""
    content = json.dumps(
        [m.model_dump() for m in item.messages] + [item.choices, item.answer], ensure_ascii=False
    )
    return f"{item.type}-{sha256_text(content)[:16]}"


def normalise(text: str) -> str:
    """Case, width, punctuation and spacing folded; option lines ("B. ...") sorted, so the same
    question with its options reordered is recognised as a duplicate."""
    lines = [
        _PUNCTUATION_OR_SPACE.sub("", line)
        for line in unicodedata.normalize("NFKC", text).lower().splitlines()
    ]
    options = sorted(line[1:] for line in lines if _OPTION_LINE.match(line))
    return "".join(line for line in lines if not _OPTION_LINE.match(line)) + "|" + "|".join(options)


def rejection(item: Item, max_chars: int) -> str | None:
    """The first filter an item fails, or None."""
    if any(not m.content.strip() for m in item.messages):
        return "empty_turn"
    if sum(len(m.content) for m in item.messages) > max_chars:
        return "too_long"
    gold = item.answer if item.answer_kind == AnswerKind.math and item.answer else item.gold
    if parse_answer(item.answer_kind, gold) is None:
        return "gold_unparsed"
    if item.answer_kind == AnswerKind.math and parse_answer(AnswerKind.math, item.gold) is None:
        return "gold_unparsed"
    if item.choices is not None:
        if len(set(item.choices)) != len(item.choices):
            return "choices_not_distinct"
        if item.choices[0].strip() != item.gold.strip():
            return "choices_gold_mismatch"
    return None


@dataclass
class Annotated:
    splits: dict[str, dict[str, list[Item]]]  # split -> type -> items sorted by id
    report: dict = field(default_factory=dict)


def _deduplicate(candidates, drops):
    seen_exact: set[str] = set()
    seen_normal: set[str] = set()
    kept = []
    order = sorted(range(len(candidates)), key=lambda i: (_DEDUP_ORDER[candidates[i][1]], i))
    for index in order:
        item, split = candidates[index]
        exact, normal = item.prompt_text, normalise(item.prompt_text)
        if exact in seen_exact:
            drops[item.type]["duplicate_exact"] += 1
        elif normal in seen_normal:
            drops[item.type]["duplicate_normalised"] += 1
        else:
            seen_exact.add(exact)
            seen_normal.add(normal)
            kept.append((index, item, split))
    kept.sort(key=lambda entry: entry[0])  # back to source order
    return [(item, split) for _, item, split in kept]


_FILE_LINE = re.compile(r"(.+\.jsonl?):(\d+)")  # the key read_release_items gives: <file>:<line>


def _place(item: Item) -> str:
    return f"{item.source.key}" if item.source else f"id {item.id}"


def check_leakage(candidates: list[tuple[Item, str | None]], files_root: Path) -> None:
    """Refuse an item of one declared split that is also in another (the same id, or the same
    prompt after normalisation): evaluating on what was trained on. Both places are named. Training
    material (train and the synthetic pool) may repeat itself; the release's two rounds overlap."""
    seen: dict[str, tuple[str, str]] = {}  # id or normalised prompt -> (split group, place)
    for item, split in candidates:
        if split is None:  # annotate assigns it after de-duplication: it cannot leak
            continue
        group = "train" if split in ("train", "synthetic") else split
        keys = [f"id:{item.id}"] if item.id else []
        for key in (*keys, f"prompt:{normalise(item.prompt_text)}"):
            first = seen.setdefault(key, (group, _place(item)))
            if first[0] != group:
                what = "id" if key.startswith("id:") else "prompt (after normalisation)"
                # a snapshot file and line where the raw stage recorded one, else the item's own key
                found = _FILE_LINE.fullmatch(_place(item))
                where = f" ({_place(item)})" if not found else ""
                raise DataError(
                    files_root / found.group(1) if found else files_root,
                    f"the same {what}{where} is in {first[0]} at {first[1]}: an item is in one split only",
                    int(found.group(2)) if found else None,
                    "id" if key.startswith("id:") else "messages",
                )


def maths_answer_warnings(candidates: list[tuple[Item, str | None]]) -> list[dict]:
    """Maths items whose solution ends on another value than their `answer` (in a format that may
    be a remark: the raw stage refuses the certain ones), for the report."""
    found = []
    for item, _ in candidates:
        if item.answer_kind == AnswerKind.math and item.answer:
            stated = stated_final_answer(item.gold, item.answer)
            if stated:
                found.append({"item": _place(item), "answer": item.answer, "solution_states": stated[0]})
    return found


def _split_unassigned(items: list[Item], ability: str, valid_size: int, test_size: int, seed: int):
    if len(items) <= valid_size + test_size:
        raise DataError(
            "params.yaml",
            f"{ability} has {len(items)} items after filtering, not more than "
            f"valid_size + test_size = {valid_size + test_size}",
            None,
            "annotate.targets",
        )
    ordered = sorted(items, key=lambda item: item.id)
    rng_for(seed, f"split:{ability}").shuffle(ordered)
    return {
        "test": ordered[:test_size],
        "valid": ordered[test_size : test_size + valid_size],
        "train": ordered[test_size + valid_size :],
    }


def annotate(
    candidates: list[tuple[Item, str | None]],
    targets: dict[str, int],
    *,
    valid_size: int,
    test_size: int,
    max_chars: int,
    seed: int,
) -> Annotated:
    counts: Counter = Counter(item.type for item, _ in candidates)
    drops: dict[str, Counter] = defaultdict(Counter)
    identified = [
        (item.model_copy(update={"id": item.id or item_id(item), "task": item.task or item.type}), split)
        for item, split in candidates
    ]
    passed = []
    for item, split in identified:
        reason = rejection(item, max_chars)
        if reason:
            drops[item.type][reason] += 1
        else:
            passed.append((item, split))
    unique = _with_distractors(_deduplicate(passed, drops), drops, seed)

    splits: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    unassigned: dict[str, list[Item]] = defaultdict(list)
    for item, split in unique:
        if split is None:
            unassigned[item.type].append(item)
        else:  # the synthetic pool is training material: train/general.jsonl
            splits["train" if split == "synthetic" else split][item.type].append(item)
    for ability, items in sorted(unassigned.items()):
        capped = items[: targets.get(ability, len(items))]
        drops[ability]["over_target"] += len(items) - len(capped)
        for split, part in _split_unassigned(capped, ability, valid_size, test_size, seed).items():
            splits[split][ability].extend(part)
    final = {
        split: {name: sorted(items, key=lambda i: i.id) for name, items in sorted(by_type.items())}
        for split, by_type in sorted(splits.items())
    }
    return Annotated(final, _report(final, counts, drops, targets))


def _with_distractors(
    unique: list[tuple[Item, str | None]], drops, seed: int
) -> list[tuple[Item, str | None]]:
    """Give format-1 items that may be evaluated and have no choices [gold, fine, coarse]; the coarse
    one comes from another item of the same ability. Done before capping and splitting, so a failure
    cannot shrink a split. Training items need no choices (the release's carry none)."""
    pools: dict[str, list[Item]] = defaultdict(list)
    for item, _ in unique:
        pools[item.type].append(item)
    for pool in pools.values():
        pool.sort(key=lambda i: i.id)
    rngs = {name: rng_for(seed, f"distractors:{name}") for name in pools}
    done = []
    for item, split in sorted(unique, key=lambda entry: entry[0].id):  # draws independent of source order
        if item.question_format == 1 and item.choices is None and split not in ("train", "synthetic"):
            made = with_distractors(item, pools[item.type], rngs[item.type])
            if made is None:
                drops[item.type]["no_distractor"] += 1
                continue
            item = made
        done.append((item, split))
    return done


def _report(splits, counts, drops, targets) -> dict:
    names = sorted(set(counts) | {n for by in splits.values() for n in by})
    per_type = {}
    for name in names:
        sizes = {split: len(splits.get(split, {}).get(name, [])) for split in splits}
        kept = sum(sizes.values())
        entry = {
            "candidates": counts[name],
            "kept": kept,
            "splits": sizes,
            "dropped": dict(sorted(drops[name].items())),
            "pass_rate": round(kept / counts[name], 4) if counts[name] else None,
        }
        if name in targets:
            entry |= {"target": targets[name], "shortfall": max(0, targets[name] - kept)}
        per_type[name] = entry
    missing = [a for a in ABILITIES if a not in per_type]
    return {
        "types": per_type,
        "missing_abilities": missing,
        "total": {"candidates": sum(counts.values()), "kept": sum(e["kept"] for e in per_type.values())},
    }
