"""The DoIT release read as published (tests/fixtures/make_doit_release.py says where each detail of
the fixture comes from): layout, types, C-Eval dialogues, answer kinds, and bad input."""

import shutil
from pathlib import Path

import pytest

from doit_study.core.files import DataError
from doit_study.core.schema import RELEASE_OOD, AnswerKind
from doit_study.items.sources import release
from doit_study.items.sources.release import read_release_items
from doit_study.items.sources.snapshot import snapshot
from doit_study.params.data import DataParams

HUB = {"repo_id": "ChiyuSONG/dynamics-of-instruction-tuning"}


def _params(path: Path | None = None, revision: str | None = None, source: str = "doit") -> DataParams:
    return DataParams(
        source=source,
        seed=0,
        math_instances=0,
        doit={"path": str(path) if path and source == "doit" else None, "revision": revision, **HUB},
        jsonl={"path": str(path) if source == "jsonl" else None},
    )


def _items(release_dir: Path, tmp_path: Path):
    return read_release_items(tmp_path, snapshot(_params(release_dir), tmp_path))


def _copy(release_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(release_dir, tmp_path / "release"))


def test_release_files_load_unchanged_with_splits(release_dir, tmp_path):
    manifest = snapshot(_params(release_dir), tmp_path)
    files = {entry["file"]: entry for entry in manifest["files"]}
    assert files["curated/1000/math_1000.json"]["split"] == "train"
    assert files["curated/full/math_full.json"]["split"] == "train"
    assert files["curated/valid/role_play_valid.json"]["split"] == "valid"
    assert files["curated/test/ceval_physician.json"]["split"] == "test"
    assert files["synthetic/40960/general_instruction_gpt4_41k.json"]["split"] == "synthetic"
    for entry in manifest["files"]:
        assert (tmp_path / "files" / entry["file"]).read_bytes() == (release_dir / entry["file"]).read_bytes()
    items = read_release_items(tmp_path, manifest)
    assert sum(entry["records"] for entry in manifest["files"]) == len(items)


def test_the_c_eval_sets_are_five_shot_dialogues_scored_as_letters(release_dir, tmp_path):
    items = [(item, split) for item, split in _items(release_dir, tmp_path) if item.type in RELEASE_OOD]
    assert {item.type for item, _ in items} == set(RELEASE_OOD)
    for item, split in items:
        assert split == "test" and len(item.messages) == 12 and item.answer_kind is AnswerKind.letter
        assert item.gold in "ABCD" and "例题5" in item.messages[8].content


def test_answer_kinds_follow_the_fact_sheet(release_dir, tmp_path):
    items = [item for item, _ in _items(release_dir, tmp_path)]
    kinds = {(item.type, item.gold): item.answer_kind for item in items}
    for marker in ("√", "×", "正确", "错误", "对", "错"):
        assert kinds[("history", marker)] is AnswerKind.true_false
    assert kinds[("history", "A")] is AnswerKind.letter
    assert kinds[("chinese", "兔")] is AnswerKind.fill
    assert kinds[("chinese", "A")] is AnswerKind.letter
    ethics = {kind for (name, _), kind in kinds.items() if name == "ethics"}
    assert ethics == {AnswerKind.multi_letter}
    for name in ("code", "creative_writing", "role_play", "general"):  # every split, choices or none
        assert {kind for (t, _), kind in kinds.items() if t == name} == {AnswerKind.open}
    first_round = [
        i for i in items if i.type == "creative_writing" and i.source.key.startswith("curated/1000")
    ]
    assert first_round and all(item.choices is None for item in first_round)


def test_maths_answers_are_latex_without_dollar_signs(release_dir, tmp_path):
    items = [item for item, _ in _items(release_dir, tmp_path) if item.type == "math"]
    answers = {item.answer for item in items}
    assert {"2\\sqrt{3}", "\\frac{3}{4}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"} <= answers
    assert all("$" not in answer for answer in answers)


def test_multi_turn_dialogues_and_the_unlabelled_synthetic_pool_survive(release_dir, tmp_path):
    items = [item for item, _ in _items(release_dir, tmp_path)]
    dialogue = next(item for item in items if item.type == "understanding")
    assert [m.role for m in dialogue.messages] == ["user", "assistant"] * 2
    synthetic = [item for item in items if item.type == "general"]
    assert len(synthetic) == 24 and all(item.source.key.startswith("synthetic/") for item in synthetic)


def test_a_c_eval_record_without_its_twelve_messages_is_refused(release_dir, tmp_path):
    copy = _copy(release_dir, tmp_path)
    path = copy / "curated/test/ceval_physician.json"
    lines = path.read_text(encoding="utf-8").splitlines()
    tail = '], "type": "ceval_physician_fshot", "question_format": 0}'
    short = lines[1].split(', {"role": "user"', 1)[0] + tail
    path.write_text("\n".join([lines[0], short, *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="12 messages") as error:
        snapshot(_params(copy), tmp_path / "raw")
    assert error.value.path == str(path) and error.value.line == 2 and error.value.field == "messages"


def test_a_release_without_training_files_is_refused(release_dir, tmp_path):
    copy = _copy(release_dir, tmp_path)
    shutil.rmtree(copy / "curated/1000")
    shutil.rmtree(copy / "curated/full")
    with pytest.raises(DataError, match="no train folder: expected curated/1000/ or curated/full/") as error:
        snapshot(_params(copy), tmp_path / "raw")
    assert error.value.path == str(copy)
    assert not (tmp_path / "raw" / "manifest.json").exists()


def test_an_evaluated_ability_without_training_items_is_named(release_dir, tmp_path):
    copy = _copy(release_dir, tmp_path)
    (copy / "curated/1000/ethics_1000.json").unlink()
    (copy / "curated/full/ethics_full.json").unlink()
    with pytest.raises(DataError, match="ability 'ethics' is in valid but has no training items"):
        snapshot(_params(copy), tmp_path / "raw")


def test_a_jsonl_directory_without_train_is_refused(tmp_path):
    (tmp_path / "mine/test").mkdir(parents=True)
    (tmp_path / "mine/test/biology.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "A"}], '
        '"type": "biology"}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="no train folder: expected train/; found test") as error:
        snapshot(_params(tmp_path / "mine", source="jsonl"), tmp_path / "raw")
    assert error.value.path == str(tmp_path / "mine")


def test_hub_download_uses_the_pinned_revision(release_dir, tmp_path, monkeypatch):
    calls = {}

    def fake_snapshot_download(**kwargs):
        calls.update(kwargs)
        return str(release_dir)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    revision = "b046c39e616cb134a2ff213480de8af82d8f5176"
    manifest = snapshot(_params(revision=revision), tmp_path)
    assert calls["revision"] == revision and calls["repo_type"] == "dataset"
    assert manifest["revision"] == revision


def test_unpinned_revision_is_refused():
    with pytest.raises(DataError, match="40-hex commit"):
        release.fetch_release("ChiyuSONG/dynamics-of-instruction-tuning", "main")


def test_a_bad_release_line_is_reported_with_its_file_and_line(release_dir, tmp_path):
    copy = _copy(release_dir, tmp_path)
    bad = copy / "curated/1000/math_1000.json"
    lines = bad.read_text(encoding="utf-8").count("\n")
    bad.write_text(
        bad.read_text(encoding="utf-8") + '{"messages": "oops", "type": "math"}\n', encoding="utf-8"
    )
    with pytest.raises(DataError) as error:
        snapshot(_params(copy), tmp_path / "raw")
    assert error.value.path == str(bad) and error.value.line == lines + 1 and error.value.field == "messages"
