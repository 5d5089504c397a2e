"""The paper profile's DAG, expanded by DVC without running it: its stages and checkpoints against
the paper (3 sizes, n = 1..1000 on two pools, 15 epochs: "nearly 500 model checkpoints")."""

import shutil
import subprocess
from collections import Counter

import pytest
import yaml

from tests.conftest import ENV, REPO

pytestmark = pytest.mark.slow  # each test runs stages or dvc as subprocesses


def test_the_paper_profile_expands_to_the_papers_study(tmp_path):
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(REPO / "profiles/paper.yaml", tmp_path / "params.yaml")
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, env=ENV, check=True)
    listed = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    groups = Counter(name.split("@")[0] for name in listed.stdout.split())
    params = yaml.safe_load((tmp_path / "params.yaml").read_text(encoding="utf-8"))
    settings = params["train"]["settings"]
    assert len(settings) == 49  # 3 sizes x 6 volumes x 2 pools, 10 single-ability runs, 3 hand mixes
    assert groups == {
        "raw": 1,
        "annotate": 1,
        "expand": 1,
        "tokenizer": 1,
        "foundation": 3,  # Chinese-LLaMA 7b, 13b, 33b
        "train": 49,
        "benchmark": 1,
        "evaluate": 49,
        "evaluate_base": 3,
        "study": 1,
        "analyse": 1,
        "derive_mixes": 1,
        "train_mix": 2,
        "evaluate_mix": 2,
        "report": 1,
    }
    epochs = params["train"]["optim"]["epochs"]
    grid = [s for s in settings.values() if s["subset"].startswith(("curated-n", "synthetic-n"))]
    assert epochs == 15 and len(grid) * epochs == 540  # the scaling grid: the paper's "over 500"
    assert (groups["train"] + groups["train_mix"]) * epochs == 765  # with single-ability runs and mixes


@pytest.mark.parametrize(
    "profile", ["params.yaml", "profiles/smoke.yaml", "profiles/smoke-release.yaml", "profiles/paper.yaml"]
)
def test_every_param_a_stage_declares_is_in_the_profile(tmp_path, profile):
    """DVC refuses to commit a stage whose declared param is missing from params.yaml."""
    from dvc.repo import Repo

    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(REPO / profile, tmp_path / "params.yaml")
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, env=ENV, check=True)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text(encoding="utf-8"))
    missing = set()
    with Repo(str(tmp_path)) as repo:
        for stage in repo.index.stages:
            for dep in stage.deps:
                for key in getattr(dep, "params", None) or []:
                    node = params
                    for part in key.split("."):
                        if not isinstance(node, dict) or part not in node:
                            missing.add(f"{stage.addressing}: {key}")
                            break
                        node = node[part]
    assert not missing, sorted(missing)[:5]
