"""The paper profile's DAG, expanded by DVC without running it: its stages and checkpoints against
the paper (3 sizes, n = 1..1000 on two pools, 15 epochs: "nearly 500 model checkpoints")."""

import shutil
import subprocess
from collections import Counter

import pytest
import yaml

from tests.helpers import ENV, REPO

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
        "judge": 1,  # judges nothing in this profile (judge.settings: [])
        "study": 1,
        "analyse": 1,
        "forecast": 1,
        "derive_mixes": 1,
        "train_mix": 2,
        "evaluate_mix": 2,
        "report": 1,
    }
    epochs = params["train"]["optim"]["epochs"]
    grid = [s for s in settings.values() if s["subset"].startswith(("curated-n", "synthetic-n"))]
    assert epochs == 15 and len(grid) * epochs == 540  # the scaling grid: the paper's "over 500"
    assert (groups["train"] + groups["train_mix"]) * epochs == 765  # with single-ability runs and mixes


def _stage_groups(tmp_path, profile: str) -> Counter:
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(REPO / profile, tmp_path / "params.yaml")
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, env=ENV, check=True)
    listed = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    return Counter(name.split("@")[0] for name in listed.stdout.split())


@pytest.mark.parametrize(
    ("profile", "settings", "hours"),
    [("profiles/flan.yaml", 25, 121.4), ("profiles/limit.yaml", 25, 217.0)],
)
def test_the_flan_and_limit_profiles_expand_to_their_designs(tmp_path, profile, settings, hours):
    """FLAN: 3 sizes x 4 task counts x with and without chain of thought, and the mixes' Baseline;
    LIMIT: 2 sizes x 3 open-ended shares x 4 totals, and the Baseline; the same stages as DoIT."""
    from doit_study.params.study import load_params
    from doit_study.pipeline.cost import training_cost

    groups = _stage_groups(tmp_path, profile)
    assert groups["train"] == groups["evaluate"] == settings and groups["judge"] == 1
    # every other stage once (the forecast too), foundations 3 x 2
    assert sum(groups.values()) == 2 * settings + 21
    params = load_params(REPO / profile)
    budget = training_cost(params, tokens_per_item=300, gpu_tflops=312, utilisation=0.4)
    assert budget["training_runs"] == settings + 2 and budget["checkpoints"] == (settings + 2) * 15
    assert budget["gpu_hours"] == pytest.approx(hours, abs=0.1)
    if params.analysis.design == "limit":
        assert params.judge.endpoint.api_key_env == "JUDGE_API_KEY" and len(params.judge.settings) == 24


@pytest.mark.parametrize(
    "profile",
    [
        "params.yaml",
        "profiles/smoke.yaml",
        "profiles/smoke-release.yaml",
        "profiles/paper.yaml",
        "profiles/flan.yaml",
        "profiles/smoke-flan.yaml",
        "profiles/limit.yaml",
        "profiles/smoke-limit.yaml",
    ],
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
