"""Sources whose files are already items: the DoIT release (`doit`) and a user's own directory
(`jsonl`). The raw stage copies their files verbatim after validating every line; annotate reads the
copies and fills in what the release leaves out (id, answer_kind, source).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from doit_study.core.files import DataError, parse_item, read_json_lines, sha256_file
from doit_study.core.schema import ABILITIES, RELEASE_OOD, SYNTHETIC_TYPE, AnswerKind, Item, Source
from doit_study.items.answers import parse_answer, parse_letter, parse_true_false, stated_final_answer

# Release layout -> split; the first round (curated/1000) and the expansion (curated/full) are both train.
RELEASE_SPLITS = {
    "curated/1000": "train",
    "curated/full": "train",
    "curated/valid": "valid",
    "curated/test": "test",
    "synthetic/40960": "synthetic",
}
_RELEASE_NAME = re.compile(r"^(?P<type>.+?)_(?:1000|full|valid|test)\.json$")
FEW_SHOT_MESSAGES = 12  # a C-Eval record: 5 exemplar pairs, the question and the gold letter
OPEN_ABILITIES = ("code", "creative_writing", "role_play")  # compared with distractors, never parsed


def fetch_release(repo_id: str, revision: str, cache_dir: str | None = None) -> Path:
    """Download the release at a pinned commit from the hub (only when no local copy is given)."""
    from huggingface_hub import snapshot_download

    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise DataError(
            "params.yaml", f"revision {revision!r} is not a 40-hex commit hash", None, "data.doit.revision"
        )
    folder = snapshot_download(
        repo_id=repo_id,
        repo_type="dataset",
        revision=revision,
        cache_dir=cache_dir,
        allow_patterns=[f"{prefix}/*.json" for prefix in RELEASE_SPLITS],
    )
    return Path(folder)


# What each split needs: one of these folders (release layout, then a user's jsonl directory).
RELEASE_NEEDS = {
    "train": ("curated/1000", "curated/full"),
    "valid": ("curated/valid",),
    "test": ("curated/test",),
}
USER_SPLITS = ("train", "valid", "test")


def _require_folders(root: Path, needs: dict[str, tuple[str, ...]]) -> None:
    """Every split has its folder, spelt as the layout spells it; otherwise name what is there."""
    if not root.is_dir():
        raise DataError(root, "no such directory")
    for split, folders in needs.items():
        if not any((root / folder).is_dir() for folder in folders):
            depth = folders[0].count("/") + 1
            found = sorted(str(p.relative_to(root)) for p in root.glob("/".join(["*"] * depth)) if p.is_dir())
            raise DataError(
                root,
                f"no {split} folder: expected {' or '.join(f + '/' for f in folders)}; "
                f"found {', '.join(found) or 'no folders'} (folder names are case-sensitive)",
            )


def ignored_files(root: Path, read: list[tuple[str, Path]]) -> list[str]:
    """Every file under root that is not read, relative to root: each is named, none is skipped
    silently (hidden ones, such as a clone's .git or a download's .cache, are not the source's)."""
    taken = {path.resolve() for _, path in read}
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file()
        and path.resolve() not in taken
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def release_files(root: Path) -> list[tuple[str, Path]]:
    """(split, file) for every release file under root, in sorted order."""
    _require_folders(root, RELEASE_NEEDS)
    files = []
    for prefix, split in RELEASE_SPLITS.items():
        folder = root / prefix
        if folder.is_dir():
            files += [(split, path) for path in sorted(folder.glob("*.json"))]
    return files


def user_files(root: Path) -> list[tuple[str, Path]]:
    """A user's directory: <split>/<name>.jsonl, split one of train, valid, test."""
    _require_folders(root, {split: (split,) for split in USER_SPLITS})
    return [(split, path) for split in USER_SPLITS for path in sorted((root / split).glob("*.jsonl"))]


def _type_from_name(path: Path) -> str:
    match = _RELEASE_NAME.match(path.name)
    return match.group("type") if match else path.stem


def _release_record(record: dict, path: Path, split: str) -> dict:
    """A record as an item: the synthetic pool's records carry no type (no ability label)."""
    if "type" not in record:
        record = {**record, "type": SYNTHETIC_TYPE if split == "synthetic" else _type_from_name(path)}
    return record


def _check_few_shot(item: Item, path: Path, line: int) -> None:
    """A C-Eval record as the authors' scorer asserts it: 12 messages, the last a gold letter."""
    if len(item.messages) != FEW_SHOT_MESSAGES:
        message = f"a {item.type} record has {FEW_SHOT_MESSAGES} messages (5 exemplar pairs, question, gold)"
        raise DataError(path, f"{message}, not {len(item.messages)}", line, "messages")
    if item.gold.strip() not in ("A", "B", "C", "D"):
        raise DataError(path, f"gold {item.gold[:20]!r} is not a letter A-D", line, "messages.11.content")


def check_splits(types_by_split: dict[str, set[str]], root: Path, ignored: list[str]) -> None:
    """Training material exists, and every ability is both trained and evaluated (valid and test).
    An error names the files that were not read: a misnamed file is the likeliest cause."""
    try:
        _check_split_types(types_by_split, root)
    except DataError as error:
        if ignored:
            raise DataError(root, f"{error.message} (files not read: {', '.join(ignored)})") from None
        raise


def _check_split_types(types_by_split: dict[str, set[str]], root: Path) -> None:
    if not types_by_split.get("train"):
        expected = "curated/1000/*.json or curated/full/*.json (release), train/*.jsonl (jsonl source)"
        raise DataError(root, f"no training file: expected {expected}")
    for split in ("valid", "test"):
        missing = sorted((types_by_split.get(split, set()) & set(ABILITIES)) - types_by_split["train"])
        if missing:
            raise DataError(root, f"ability {missing[0]!r} is in {split} but has no training items")
        untested = sorted((types_by_split["train"] & set(ABILITIES)) - types_by_split.get(split, set()))
        if untested:
            raise DataError(root, f"ability {untested[0]!r} has training items but no {split} items")


def _validated_records(split: str, path: Path, types: set[str], ids: dict[str, str]) -> int:
    """Check every line of one file (the types found go into `types`, declared ids into `ids`, id ->
    where it was first seen); its record count."""
    count = 0
    for line, record in read_json_lines(path):
        item = parse_item(_release_record(record, path, split), path, line)
        _check_declared_gold(item, path, line)
        _check_maths_answer(item, path, line)
        if item.type in RELEASE_OOD:
            _check_few_shot(item, path, line)
        if item.id is not None:
            if item.id in ids:
                raise DataError(path, f"id {item.id!r} is already used at {ids[item.id]}", line, "id")
            ids[item.id] = f"{path}:{line}"
        types.add(item.type)
        count += 1
    return count


def _check_maths_answer(item: Item, path: Path, line: int) -> None:
    """A maths item's `answer` is its gold: empty is no gold, and a solution that states another
    final value in a certain format (\\boxed{}, "# Answer") contradicts it."""
    if item.type != "math" and item.answer_kind != AnswerKind.math:
        return
    if item.answer is not None and not item.answer.strip():
        raise DataError(path, "a maths item's answer is empty", line, "answer")
    stated = stated_final_answer(item.gold, item.answer) if item.answer else None
    if stated and stated[1]:
        field = f"messages.{len(item.messages) - 1}.content"
        raise DataError(
            path, f"the solution's final answer {stated[0]!r} is not answer {item.answer!r}", line, field
        )


def snapshot_files(
    files: list[tuple[str, Path]], root: Path, out_dir: Path, ignored: list[str]
) -> list[dict]:
    """Validate every line of every file and the splits together, then copy the files verbatim
    under out_dir (nothing is copied from a source that fails)."""
    types_by_split: dict[str, set[str]] = {}
    ids: dict[str, str] = {}
    counts = [
        _validated_records(split, path, types_by_split.setdefault(split, set()), ids) for split, path in files
    ]
    check_splits(types_by_split, root, ignored)
    entries = []
    for (split, path), count in zip(files, counts, strict=True):
        relative = path.relative_to(root)
        target = out_dir / "files" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        entries.append(
            {"file": str(relative), "split": split, "sha256": sha256_file(target), "records": count}
        )
    return entries


def _check_declared_gold(item: Item, path: Path, line: int) -> None:
    """An item that declares its answer kind must have a gold that parses as that kind. (Release
    lines declare none; their kind is inferred and a bad gold is filtered and counted by annotate.)"""
    if item.answer_kind is None:
        return
    gold, field = (
        (item.answer, "answer")
        if item.answer_kind == AnswerKind.math and item.answer
        else (item.gold, f"messages.{len(item.messages) - 1}.content")
    )
    if parse_answer(item.answer_kind, gold) is None:
        raise DataError(
            path, f"gold answer {gold[:40]!r} does not parse as {item.answer_kind.value}", line, field
        )


def infer_answer_kind(item: Item) -> AnswerKind:
    """The release stores no answer kind; it follows from the ability, format and gold (fact sheet).
    Code, creative writing and role play are open answers in every split: their training items
    (format 0 or 1, no choices) are trained on, their valid and test items compared with distractors."""
    if item.question_format == 1 or item.type in OPEN_ABILITIES or item.type == SYNTHETIC_TYPE:
        return AnswerKind.open
    if item.type == "math":
        return AnswerKind.math
    if item.type == "ethics":
        return AnswerKind.multi_letter
    gold = item.gold.strip()
    if item.type == "history" and parse_letter(gold) is None and parse_true_false(gold) is not None:
        return AnswerKind.true_false
    if item.type == "chinese" and not re.fullmatch(r"[A-D]", gold):
        return AnswerKind.fill
    return AnswerKind.letter


def read_release_items(raw_dir: Path, manifest: dict) -> list[tuple[Item, str]]:
    """(item, split) for every line of the snapshot, with kind and provenance filled in."""
    out = []
    name, version = manifest["source"], manifest.get("revision") or "local"
    for entry in manifest["files"]:
        path = raw_dir / "files" / entry["file"]
        for line, record in read_json_lines(path):
            item = parse_item(_release_record(record, path, entry["split"]), path, line)
            updates = {}
            if item.answer_kind is None:
                updates["answer_kind"] = infer_answer_kind(item)
            if item.source is None:
                updates["source"] = Source(name=name, version=version, key=f"{entry['file']}:{line}")
            out.append((item.model_copy(update=updates), entry["split"]))
    return out
