"""Bad input refused at the first stage that can see it: a non-zero exit, one line naming file,
line and field, and the previous outputs byte for byte as they were (the stages write to a
temporary path and rename). The end_lr case and the stage-level cases in test_stages.py complete
the battery; damaged model folders are in tests/modeling."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import FIXTURES, REPO, fails_cleanly, jsonl_params, run_stage, user_jsonl_dir

pytestmark = pytest.mark.slow  # each case runs stages as subprocesses


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _raw(tmp: Path, params: Path):
    return run_stage("raw", "--params", str(params), "--out", "data/raw", cwd=tmp)


def _annotate(tmp: Path, params: Path):
    return run_stage(
        "annotate", "--params", str(params), "--raw", "data/raw", "--out", "data/annotated", cwd=tmp
    )


def _release_params(tmp: Path, release: Path) -> Path:
    params = yaml.safe_load((REPO / "profiles/smoke-release.yaml").read_text(encoding="utf-8"))
    params["data"]["doit"]["path"] = str(release)
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def release(tmp_path) -> tuple[Path, Path]:
    """A copy of the release fixture with a good snapshot already in data/raw; (copy, params)."""
    copy = Path(shutil.copytree(FIXTURES / "doit_release", tmp_path / "release"))
    params = _release_params(tmp_path, copy)
    assert _raw(tmp_path, params).returncode == 0
    return copy, params


@pytest.fixture
def user(tmp_path) -> tuple[Path, Path]:
    """A user's jsonl directory with its snapshot and annotation already written; (folder, params)."""
    folder = user_jsonl_dir(tmp_path / "mine")
    params = jsonl_params(tmp_path, folder)
    assert _raw(tmp_path, params).returncode == 0 and _annotate(tmp_path, params).returncode == 0
    return folder, params


def _edit_line(path: Path, line: int, **fields) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = json.dumps(json.loads(lines[line - 1]) | fields, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _add_line(path: Path, record: dict) -> int:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.read_text(encoding="utf-8").count("\n")


def _maths(answer: str, solution: str, **extra) -> dict:
    messages = [
        {"role": "user", "content": "化简 $\\sqrt{12}$。"},
        {"role": "assistant", "content": solution},
    ]
    return {"messages": messages, "type": "math", "answer_kind": "math", "answer": answer, **extra}


def test_an_empty_maths_answer_in_the_release_stops_raw(tmp_path, release):
    copy, params = release
    before = _tree_hash(tmp_path / "data/raw")
    _edit_line(copy / "curated/1000/math_1000.json", 2, answer=" ")
    fails_cleanly(
        _raw(tmp_path, params), "curated/1000/math_1000.json:2", "answer: a maths item's answer is empty"
    )
    assert _tree_hash(tmp_path / "data/raw") == before


def test_an_empty_or_contradicted_maths_answer_in_a_jsonl_source_stops_raw(tmp_path, user):
    folder, params = user
    before = _tree_hash(tmp_path / "data/raw")
    path = folder / "train/math.jsonl"
    original = path.read_text(encoding="utf-8")
    line = _add_line(path, _maths("", "答案：2"))
    fails_cleanly(
        _raw(tmp_path, params), f"train/math.jsonl:{line}", "answer: a maths item's answer is empty"
    )
    path.write_text(original, encoding="utf-8")
    line = _add_line(path, _maths("3", "$\\sqrt{12} = 2\\sqrt{3}$，所以答案是 $\\boxed{2\\sqrt{3}}$"))
    result = _raw(tmp_path, params)
    fails_cleanly(result, f"train/math.jsonl:{line}", "messages.1.content", "is not answer '3'")
    assert _tree_hash(tmp_path / "data/raw") == before


def test_a_solution_that_may_end_on_a_remark_is_a_warning_in_the_report(tmp_path, user):
    folder, params = user
    _add_line(
        folder / "train/math.jsonl", _maths("2\\sqrt{3}", "化简得 2\\sqrt{3}。\n验算：12 的平方根约为 3.46")
    )
    assert _raw(tmp_path, params).returncode == 0
    result = _annotate(tmp_path, params)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "data/annotated/report.json").read_text(encoding="utf-8"))
    [warning] = report["maths_answer_warnings"]
    assert warning["answer"] == "2\\sqrt{3}" and "3.46" in warning["solution_states"]
    assert "1 maths solutions end on another value" in result.stdout


def test_a_repeated_id_stops_raw_naming_both_places(tmp_path, user):
    folder, params = user
    before = _tree_hash(tmp_path / "data/raw")
    record = json.loads((folder / "train/biology.jsonl").read_text(encoding="utf-8").splitlines()[0])
    _edit_line(folder / "train/biology.jsonl", 1, id="bio-1")
    _edit_line(folder / "train/biology.jsonl", 2, id="bio-1")
    result = _raw(tmp_path, params)
    fails_cleanly(
        result, "train/biology.jsonl:2", "id: id 'bio-1' is already used at", "train/biology.jsonl:1"
    )
    _edit_line(folder / "train/biology.jsonl", 2, id="bio-2")
    line = _add_line(
        folder / "test/biology.jsonl",
        record
        | {"id": "bio-1", "messages": [*record["messages"][:1], {"role": "assistant", "content": "B"}]},
    )
    fails_cleanly(
        _raw(tmp_path, params), f"test/biology.jsonl:{line}", "already used at", "train/biology.jsonl:1"
    )
    assert _tree_hash(tmp_path / "data/raw") == before


def test_the_same_prompt_in_train_and_test_stops_annotate_naming_both(tmp_path, user):
    folder, params = user
    before = _tree_hash(tmp_path / "data/annotated")
    test_record = json.loads((folder / "test/history.jsonl").read_text(encoding="utf-8").splitlines()[1])
    prompt = test_record["messages"][0]["content"].replace(" ", "  ") + "。"  # equal after normalisation
    test_record["messages"][0]["content"] = prompt
    line = _add_line(folder / "train/history.jsonl", test_record)
    assert _raw(tmp_path, params).returncode == 0
    result = _annotate(tmp_path, params)
    fails_cleanly(
        result,
        "data/raw/files/test/history.jsonl:2",
        f"messages: the same prompt (after normalisation) is in train at train/history.jsonl:{line}",
    )
    assert _tree_hash(tmp_path / "data/annotated") == before


def test_a_release_file_with_another_extension_is_named_and_its_ability_stops_raw(tmp_path, release):
    copy, params = release
    before = _tree_hash(tmp_path / "data/raw")
    (copy / "curated/valid/biology_valid.json").rename(copy / "curated/valid/biology_valid.jsonl")
    result = _raw(tmp_path, params)
    fails_cleanly(
        result,
        str(copy),
        "ability 'biology' has training items but no valid items",
        "(files not read: curated/valid/biology_valid.jsonl)",
    )
    assert _tree_hash(tmp_path / "data/raw") == before
    (copy / "notes.txt").write_text("the authors' notes\n", encoding="utf-8")
    (copy / "curated/valid/biology_valid.jsonl").rename(copy / "curated/valid/biology_valid.json")
    result = _raw(tmp_path, params)
    assert result.returncode == 0 and "raw: ignored notes.txt" in result.stdout
    manifest = json.loads((tmp_path / "data/raw/manifest.json").read_text(encoding="utf-8"))
    assert manifest["ignored"] == ["notes.txt"]


def test_a_split_folder_spelt_differently_stops_raw_naming_what_is_there(tmp_path, release):
    copy, params = release
    before = _tree_hash(tmp_path / "data/raw")
    (copy / "curated/valid").rename(copy / "curated/Valid")
    result = _raw(tmp_path, params)
    fails_cleanly(result, "no valid folder: expected curated/valid/", "found curated/1000, curated/Valid")
    assert _tree_hash(tmp_path / "data/raw") == before


def test_end_lr_above_peak_lr_stops_the_training_stage_before_any_work(tmp_path):
    params = yaml.safe_load((REPO / "profiles/smoke.yaml").read_text(encoding="utf-8"))
    params["train"]["optim"]["end_lr"] = 1.0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    args = ["--setting", "s-curated-n1", "--stage", "train@s-curated-n1", "--foundation", "s", "--seed", "0"]
    paths = ["--subset", "x", "--base", "x", "--raw-manifest", "x", "--valid", "x", "--out", "out"]
    result = run_stage("train", "--params", str(path), *args, *paths, cwd=tmp_path)
    fails_cleanly(result, "params.yaml:", "train.optim", "end_lr 1.0 is above peak_lr")
    assert not (tmp_path / "out").exists()
