"""End to end on the DoIT release format: `dvc repro` of profiles/smoke-release.yaml (every stage)
on tests/fixtures/doit_release, with the three 5-shot C-Eval sets scored as out-of-domain sets, in
`overall`, in study.csv, the plots and the report under readable names; and a C-Eval benchmark read
through Hugging Face datasets from a folder in the hub layout."""

import csv
import json
import math

import pytest

from doit_study.core.schema import RELEASE_OOD, display_name
from tests.helpers import sh

pytestmark = pytest.mark.slow


def _metrics(root, setting: str) -> dict:
    return json.loads((root / f"metrics/settings/{setting}.json").read_text(encoding="utf-8"))


def test_every_stage_ran_and_nothing_is_stale(release_run):
    status = sh("dvc", "status", cwd=release_run)
    assert "up to date" in status
    for output in ("metrics/report.md", "metrics/mixes.json", "metrics/derivation.json"):
        assert (release_run / output).is_file()


def test_the_c_eval_sets_are_scored_and_count_in_overall(release_run):
    metrics = _metrics(release_run, "s-curated-n4")
    for name in RELEASE_OOD:
        assert metrics[f"test.{name}.unparsed"] >= 0 and 0 <= metrics[f"test.{name}.acc"] <= 1
        assert metrics[f"test.{name}.random"] == 0.25
    tests = [v for k, v in metrics.items() if k.startswith("test.") and k.endswith(".acc")]
    assert len(tests) == 13  # ten abilities and the three C-Eval sets
    assert metrics["overall"] == pytest.approx(math.fsum(tests) / 13)
    predictions = [
        json.loads(line)
        for line in (release_run / "metrics/predictions/s-curated-n4/test.jsonl").read_text().splitlines()
    ]
    ceval = [p for p in predictions if p["type"] in RELEASE_OOD]
    assert len(ceval) == 12 and all(p["parsed_from"] in ("text", "logits") for p in ceval)


def test_study_table_plots_and_report_carry_readable_names(release_run):
    with (release_run / "metrics/study.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    labels = {row["ability"]: row["label"] for row in rows}
    for name in RELEASE_OOD:
        assert labels[name] == display_name(name) and labels[name].startswith("C-Eval")
        assert (release_run / f"metrics/plots/abilities/{name}.csv").is_file()
    report = (release_run / "metrics/report.md").read_text(encoding="utf-8")
    assert "C-Eval physician (5-shot)" in report and "ceval_physician_fshot" not in report


def test_the_synthetic_pool_and_the_hub_benchmark_are_used(release_run):
    index = json.loads((release_run / "data/subsets/index.json").read_text(encoding="utf-8"))
    assert index["pools"]["general"] == 24 and index["subsets"]["synthetic-n1"]["total"] == 10
    assert _metrics(release_run, "s-synthetic-n1")["train_examples"] == 10
    metrics = _metrics(release_run, "s-curated-n4")
    assert {"benchmark.ceval.0shot.acc", "benchmark.ceval.2shot.acc"} <= set(metrics)


def test_maths_is_scored_under_a_budget_that_holds_its_golds(release_run):
    metrics = _metrics(release_run, "s-curated-n4")
    assert metrics["budget.math.gold_fit"] >= 0.95 and metrics["budget.math.tokens"] > 16
