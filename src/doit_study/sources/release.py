"""Sources whose files are already items: the DoIT release (`doit`) and a user's own directory
(`jsonl`). The raw stage copies their files verbatim after validating every line; annotate reads the
copies and fills in what the release leaves out (id, answer_kind, source).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from doit_study.answers import parse_answer, parse_letter, parse_true_false
from doit_study.io import DataError, parse_item, read_json_lines, sha256_file
from doit_study.schema import SYNTHETIC_TYPE, AnswerKind, Item, Source

# Release layout -> split; the first round (curated/1000) and the expansion (curated/full) are both train.
RELEASE_SPLITS = {
    "curated/1000": "train",
    "curated/full": "train",
    "curated/valid": "valid",
    "curated/test": "test",
    "synthetic/40960": "synthetic",
}
_RELEASE_NAME = re.compile(r"^(?P<type>.+?)_(?:1000|full|valid|test|gpt4_41k)\.json$")


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


def release_files(root: Path) -> list[tuple[str, Path]]:
    """(split, file) for every release file under root, in sorted order."""
    files = []
    for prefix, split in RELEASE_SPLITS.items():
        folder = root / prefix
        if folder.is_dir():
            files += [(split, path) for path in sorted(folder.glob("*.json"))]
    if not files:
        raise DataError(root, "no release files found (expected curated/{1000,full,valid,test}/*.json)")
    return files


def user_files(root: Path) -> list[tuple[str, Path]]:
    """A user's directory: <split>/<name>.jsonl, split one of train, valid, test."""
    files = [
        (split, path)
        for split in ("train", "valid", "test")
        for path in sorted((root / split).glob("*.jsonl"))
    ]
    if not files:
        raise DataError(root, "no files found (expected train/, valid/ and test/ holding *.jsonl)")
    return files


def _type_from_name(path: Path) -> str:
    match = _RELEASE_NAME.match(path.name)
    return match.group("type") if match else path.stem


def _release_record(record: dict, path: Path) -> dict:
    if "type" not in record:
        name = _type_from_name(path)
        record = {**record, "type": SYNTHETIC_TYPE if name.startswith("general") else name}
    return record


def snapshot_files(files: list[tuple[str, Path]], root: Path, out_dir: Path) -> list[dict]:
    """Validate every line of every file, then copy the files verbatim under out_dir."""
    entries = []
    for split, path in files:
        count = 0
        for line, record in read_json_lines(path):
            item = parse_item(_release_record(record, path), path, line)
            _check_declared_gold(item, path, line)
            count += 1
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
    """The release stores no answer kind; it follows from the ability, format and gold (fact sheet)."""
    if item.question_format == 1:
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
    if item.type == "general":
        return AnswerKind.open
    return AnswerKind.letter


def read_release_items(raw_dir: Path, manifest: dict) -> list[tuple[Item, str]]:
    """(item, split) for every line of the snapshot, with kind and provenance filled in."""
    out = []
    name, version = manifest["source"], manifest.get("revision") or "local"
    for entry in manifest["files"]:
        path = raw_dir / "files" / entry["file"]
        for line, record in read_json_lines(path):
            item = parse_item(_release_record(record, path), path, line)
            updates = {}
            if item.answer_kind is None:
                updates["answer_kind"] = infer_answer_kind(item)
            if item.source is None:
                updates["source"] = Source(name=name, version=version, key=f"{entry['file']}:{line}")
            out.append((item.model_copy(update=updates), entry["split"]))
    return out
