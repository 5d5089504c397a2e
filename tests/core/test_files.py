import json
from pathlib import Path

import pytest

from doit_study.core.files import DataError, atomic_dir, read_items, write_items
from tests.helpers import make

GOOD = {
    "messages": [{"role": "user", "content": "问题"}, {"role": "assistant", "content": "A"}],
    "type": "biology",
    "question_format": 0,
}


def _write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join(line if isinstance(line, bytes) else (line + "\n").encode() for line in lines))
    return path


def _error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        read_items(path)
    return caught.value


def test_release_line_round_trips(tmp_path):
    path = _write(tmp_path / "a.jsonl", [json.dumps(GOOD, ensure_ascii=False)])
    [item] = read_items(path)
    assert item.gold == "A" and item.type == "biology"
    write_items(tmp_path / "b.jsonl", [item])
    assert read_items(tmp_path / "b.jsonl") == [item]


def test_malformed_json_names_file_and_line(tmp_path):
    path = _write(tmp_path / "bad.jsonl", [json.dumps(GOOD), '{"messages": [', json.dumps(GOOD)])
    error = _error(path)
    assert (error.path, error.line) == (str(path), 2)
    assert "malformed JSON" in str(error)


def test_missing_field_is_named(tmp_path):
    record = {k: v for k, v in GOOD.items() if k != "type"}
    error = _error(_write(tmp_path / "x.jsonl", [json.dumps(record)]))
    assert (error.line, error.field) == (1, "type")


def test_mistyped_field_is_named(tmp_path):
    record = GOOD | {"question_format": "zero"}
    error = _error(_write(tmp_path / "x.jsonl", ["", json.dumps(record)]))
    assert (error.line, error.field) == (2, "question_format")


def test_unknown_ability_is_rejected(tmp_path):
    error = _error(_write(tmp_path / "x.jsonl", [json.dumps(GOOD | {"type": "astrology"})]))
    assert error.field == "type" and "unknown ability 'astrology'" in str(error)


def test_bytes_that_are_not_utf8(tmp_path):
    error = _error(_write(tmp_path / "x.jsonl", [json.dumps(GOOD), b'{"type": "\xff\xfe"}\n']))
    assert error.line == 2 and "not UTF-8" in str(error)


def test_format1_needs_exactly_three_choices(tmp_path):
    record = GOOD | {"question_format": 1, "choices": ["A", "B"]}
    error = _error(_write(tmp_path / "x.jsonl", [json.dumps(record)]))
    assert "exactly 3 choices" in str(error)


def test_atomic_dir_keeps_the_old_output_when_the_block_fails(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        write_items(tmp / "a.jsonl", [make("q", "A")])
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "partial.jsonl").write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left behind
