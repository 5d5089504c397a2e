from pathlib import Path

import pytest

from doit_study.config import DataParams
from doit_study.io import DataError
from doit_study.schema import AnswerKind
from doit_study.sources import release, snapshot
from doit_study.sources.release import read_release_items


def _snapshot(release_dir: Path, tmp_path: Path) -> dict:
    manifest = snapshot(DataParams(source="doit", doit={"path": str(release_dir)}), tmp_path)
    return manifest


def test_release_files_load_unchanged_with_splits(release_dir, tmp_path):
    manifest = _snapshot(release_dir, tmp_path)
    files = {entry["file"]: entry for entry in manifest["files"]}
    assert files["curated/1000/math_1000.json"]["split"] == "train"
    assert files["curated/valid/role_play_valid.json"]["split"] == "valid"
    assert files["synthetic/40960/general_instruction_gpt4_41k.json"]["split"] == "synthetic"
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"])
    items = read_release_items(tmp_path, manifest)
    assert sum(entry["records"] for entry in manifest["files"]) == len(items)


def test_answer_kinds_follow_the_fact_sheet(release_dir, tmp_path):
    items = read_release_items(tmp_path, _snapshot(release_dir, tmp_path))
    kinds = {(item.type, item.gold): item.answer_kind for item, _ in items}
    assert kinds[("history", "错误")] == AnswerKind.true_false
    assert kinds[("history", "√")] == AnswerKind.true_false
    assert kinds[("history", "A")] == AnswerKind.letter
    assert kinds[("chinese", "足")] == AnswerKind.fill
    assert kinds[("chinese", "B")] == AnswerKind.letter
    assert kinds[("ethics", "BD")] == AnswerKind.multi_letter
    assert {k for (t, _), k in kinds.items() if t == "math"} == {AnswerKind.math}
    assert {k for (t, _), k in kinds.items() if t == "role_play"} == {AnswerKind.open}


def test_multi_turn_dialogue_and_math_answer_survive(release_dir, tmp_path):
    items = [item for item, _ in read_release_items(tmp_path, _snapshot(release_dir, tmp_path))]
    dialogue = next(item for item in items if item.type == "understanding")
    assert [m.role for m in dialogue.messages] == ["user", "assistant"] * 2
    math = next(item for item in items if item.type == "math" and item.answer == "\\frac{3}{4}")
    assert math.gold.endswith("答案：$\\frac{3}{4}$")
    synthetic = [item for item in items if item.type == "general"]
    assert len(synthetic) == 2 and all(item.source.key.startswith("synthetic/") for item in synthetic)


def test_hub_download_uses_the_pinned_revision(release_dir, tmp_path, monkeypatch):
    calls = {}

    def fake_snapshot_download(**kwargs):
        calls.update(kwargs)
        return str(release_dir)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    revision = "b046c39e616cb134a2ff213480de8af82d8f5176"
    manifest = snapshot(DataParams(source="doit", doit={"revision": revision}), tmp_path)
    assert calls["revision"] == revision and calls["repo_type"] == "dataset"
    assert manifest["revision"] == revision


def test_unpinned_revision_is_refused():
    with pytest.raises(DataError, match="40-hex commit"):
        release.fetch_release("ChiyuSONG/dynamics-of-instruction-tuning", "main")


def test_a_bad_release_line_is_reported_with_its_file_and_line(release_dir, tmp_path):
    copy = tmp_path / "release"
    for path in release_dir.rglob("*.json"):
        target = copy / path.relative_to(release_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    bad = copy / "curated/1000/math_1000.json"
    bad.write_text(
        bad.read_text(encoding="utf-8") + '{"messages": "oops", "type": "math"}\n', encoding="utf-8"
    )
    with pytest.raises(DataError) as error:
        snapshot(DataParams(source="doit", doit={"path": str(copy)}), tmp_path / "raw")
    assert error.value.path == str(bad) and error.value.line == 3 and error.value.field == "messages"
