"""File I/O every stage shares: JSON Lines with precise errors, atomic outputs, content hashes."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from doit_study.core.schema import Item


class DataError(Exception):
    """Bad input: names the file, the line (when there is one) and the field."""

    def __init__(
        self, path: os.PathLike | str, message: str, line: int | None = None, field: str | None = None
    ):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"{field}: {message}" if field else message
        super().__init__(f"{where}: {what}")


def first_validation_error(error: ValidationError) -> tuple[str, str]:
    """(dotted field, message) of a pydantic error, worded for a person."""
    # an unknown key first: a misspelt key also leaves the right one missing, and the typo is the news
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    # a check across fields names the one to change first, "<field>: <message>", below its model
    named = re.fullmatch(r"([A-Za-z_][\w.-]*): (.+)", message, flags=re.DOTALL)
    if first["type"] == "value_error" and named:
        last = str(first["loc"][-1]) if first["loc"] else None
        below = named.group(1) if named.group(1) != last else None  # a field check names itself
        field, message = ".".join(p for p in (field, below) if p), named.group(2)
    return field or "<line>", message


def read_json_lines(path: os.PathLike | str) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for every non-blank line; bad bytes or JSON raise DataError."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    path, f"bytes are not UTF-8 ({error.reason} at byte {error.start})", number
                ) from None
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise DataError(path, f"malformed JSON ({error.msg}, column {error.colno})", number) from None
            if not isinstance(value, dict):
                raise DataError(path, f"expected a JSON object, got {type(value).__name__}", number)
            yield number, value


def parse_item(record: dict, path: os.PathLike | str, line: int | None) -> Item:
    try:
        return Item.model_validate(record)
    except ValidationError as error:
        field, message = first_validation_error(error)
        raise DataError(path, message, line, field) from None


def read_items(path: os.PathLike | str) -> list[Item]:
    return [parse_item(record, path, line) for line, record in read_json_lines(path)]


def read_split_items(annotated_dir: Path, splits: tuple[str, ...]) -> list[Item]:
    """Every item of the given splits of an annotated directory, in file-name order."""
    return [
        item
        for split in splits
        for path in sorted((annotated_dir / split).glob("*.jsonl"))
        for item in read_items(path)
    ]


def dump_json_line(record: dict) -> str:
    # sort_keys keeps bytes (and so DVC hashes) independent of dict construction order
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_json_lines(path: os.PathLike | str, records: Iterable[dict]) -> None:
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(dump_json_line(record) + "\n")


def write_items(path: os.PathLike | str, items: Iterable[Item]) -> None:
    write_json_lines(path, (item.to_json() for item in items))


def read_json(path: os.PathLike | str, missing: str = "missing: run the stages before this one") -> dict:
    """A JSON file another stage wrote; a missing one is bad input that says what to run."""
    if not Path(path).is_file():
        raise DataError(path, missing)
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(path, f"malformed JSON: {error.msg}", error.lineno) from None


def write_json(path: os.PathLike | str, value: object) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(
            json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
_DIR_MODE = 0o777 & ~_UMASK


@contextlib.contextmanager
def atomic_file(path: os.PathLike | str) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(_FILE_MODE)  # mkstemp makes 0600; outputs are ordinary shared files
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: os.PathLike | str) -> Iterator[Path]:
    """Yield a fresh temporary directory; it replaces `path` only if the block succeeds.

    A failed stage therefore leaves neither a partial directory nor a damaged old one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(_DIR_MODE)
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_temporaries(path: os.PathLike | str) -> list[Path]:
    """Remove what `atomic_file` and `atomic_dir` leave behind when a kill stops them mid-write:
    `.<name>.*.tmp` beside `path`, and `.*.tmp` directly inside it (an epoch checkpoint being
    written). Only the holder of the output's lock may call this: a live writer's files look the
    same. Returns what was removed."""
    path = Path(path)
    # exactly what tempfile names (8 characters of its alphabet): `.qwen2.<8>.tmp` is this output's,
    # `.qwen2.5.<8>.tmp` is another output's, written by another stage under its own lock
    mine = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    found = sorted(p for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp") if mine.fullmatch(p.name))
    if path.is_dir() and not path.is_symlink():
        found += sorted(path.glob(".*.tmp"))
    for leftover in found:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    return found


def sha256_file(path: os.PathLike | str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
