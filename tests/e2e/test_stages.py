"""The stage entry points as DVC runs them: a user's jsonl source end to end, and bad input."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from doit_study.core.files import read_items
from tests.helpers import REPO, fails_cleanly, jsonl_params, run_stage, user_jsonl_dir

pytestmark = pytest.mark.slow  # each test runs stages or dvc as subprocesses


def _pipeline(tmp: Path, params: Path) -> list[subprocess.CompletedProcess]:
    return [
        run_stage("raw", "--params", str(params), "--out", "data/raw", cwd=tmp),
        run_stage(
            "annotate", "--params", str(params), "--raw", "data/raw", "--out", "data/annotated", cwd=tmp
        ),
        run_stage(
            "expand",
            "--params",
            str(params),
            "--annotated",
            "data/annotated",
            "--expanded",
            "data/expanded",
            "--subsets",
            "data/subsets",
            cwd=tmp,
        ),
    ]


def test_user_jsonl_source_end_to_end(tmp_path):
    params = jsonl_params(tmp_path, user_jsonl_dir(tmp_path / "mine"))
    for result in _pipeline(tmp_path, params):
        assert result.returncode == 0, result.stderr
    assert len(read_items(tmp_path / "data/annotated/valid/math.jsonl")) == 3
    index = json.loads((tmp_path / "data/subsets/index.json").read_text(encoding="utf-8"))
    assert index["subsets"]["curated-n16"]["total"] == 160
    assert len(read_items(tmp_path / "data/subsets/only-code-n16.jsonl")) == 16


def test_malformed_user_line_stops_raw_with_no_output(tmp_path):
    user = user_jsonl_dir(tmp_path / "mine")
    (user / "train/code.jsonl").write_text('{"messages": [}\n', encoding="utf-8")
    result = run_stage(
        "raw", "--params", str(jsonl_params(tmp_path, user)), "--out", "data/raw", cwd=tmp_path
    )
    fails_cleanly(result, "train/code.jsonl:1", "malformed JSON")
    assert not (tmp_path / "data/raw").exists() and not list((tmp_path / "data").iterdir())


def test_unparsable_declared_gold_names_the_field(tmp_path):
    user = user_jsonl_dir(tmp_path / "mine")
    bad = {
        "messages": [{"role": "user", "content": "选哪个？"}, {"role": "assistant", "content": "不知道"}],
        "type": "biology",
        "answer_kind": "letter",
    }
    with (user / "valid/biology.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(bad, ensure_ascii=False) + "\n")
    result = run_stage(
        "raw", "--params", str(jsonl_params(tmp_path, user)), "--out", "data/raw", cwd=tmp_path
    )
    fails_cleanly(result, "valid/biology.jsonl:4", "messages.1.content", "does not parse as letter")


def test_unknown_ability_and_non_utf8_are_reported(tmp_path):
    user = user_jsonl_dir(tmp_path / "mine")
    (user / "test/ethics.jsonl").write_bytes(b'{"type": "\xff"}\n')
    result = run_stage(
        "raw", "--params", str(jsonl_params(tmp_path, user)), "--out", "data/raw", cwd=tmp_path
    )
    fails_cleanly(result, "test/ethics.jsonl:1", "not UTF-8")
    (user / "test/ethics.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "A"}], '
        '"type": "alchemy"}\n',
        encoding="utf-8",
    )
    result = run_stage(
        "raw", "--params", str(jsonl_params(tmp_path, user)), "--out", "data/raw", cwd=tmp_path
    )
    fails_cleanly(result, "test/ethics.jsonl:1", "type: unknown ability 'alchemy'")


def test_n_larger_than_the_pool_stops_expand_and_keeps_old_outputs(tmp_path):
    params = jsonl_params(tmp_path, user_jsonl_dir(tmp_path / "mine"))
    for result in _pipeline(tmp_path, params):
        assert result.returncode == 0, result.stderr
    before = sorted(p.name for p in (tmp_path / "data/subsets").iterdir())
    too_big = jsonl_params(tmp_path, tmp_path / "mine", n_per_ability=[1, 4, 16, 64])
    result = _pipeline(tmp_path, too_big)[2]
    fails_cleanly(result, "params.yaml", "curated-n64 needs 64")
    assert sorted(p.name for p in (tmp_path / "data/subsets").iterdir()) == before


def test_profile_with_an_unknown_key_stops_the_stage(tmp_path):
    params = yaml.safe_load((REPO / "profiles/smoke.yaml").read_text(encoding="utf-8"))
    params["data"]["sauce"] = "builtin"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    result = run_stage("raw", "--params", str(path), "--out", "data/raw", cwd=tmp_path)
    fails_cleanly(result, "params.yaml:", "data.sauce", "Extra inputs are not permitted")
