"""End to end, the FLAN and LIMIT designs on the same stages (`dvc repro` of profiles/smoke-flan.yaml
and profiles/smoke-limit.yaml): held-out tasks never trained and scored as unseen, both promptings
reported, the judge's per-item judgements, cache and win rates, the design sections of the report,
and nothing stale."""

import json

import pandas as pd
import pytest
import yaml

from doit_study.core.files import read_items
from tests.helpers import sh

pytestmark = pytest.mark.slow


def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_flan_held_out_tasks_are_never_trained_and_are_scored_as_unseen(flan_run):
    assert "up to date" in sh("dvc", "status", cwd=flan_run)
    index = _json(flan_run / "data/subsets/index.json")
    held_out = set(index["tasks"]["held_out"])
    assert len(held_out) == 2 and not held_out & set(index["tasks"]["trained"])
    tasks = {}
    for name, entry in index["subsets"].items():
        if entry["kind"] == "tasks":
            tasks[name] = {item.task for item in read_items(flan_run / f"data/subsets/{name}.jsonl")}
            assert not tasks[name] & held_out and len(tasks[name]) == entry["task_count"]
    assert (
        tasks["tasks-k2-cot0"] < tasks["tasks-k6-cot0"] < tasks["tasks-k12-cot0"] == tasks["tasks-k12-cot100"]
    )
    study = pd.read_csv(flan_run / "metrics/study.csv")
    unseen = study[study["ability"] == "unseen_tasks"]
    assert set(unseen["setting"]) == {s for s in study["setting"] if "-tasks-" in s}
    assert unseen["acc"].between(0, 1).all() and unseen["random"].gt(0).all()


def test_flan_chain_targets_follow_their_share_and_both_promptings_are_reported(flan_run):
    cot = read_items(flan_run / "data/subsets/tasks-k12-cot100.jsonl")
    direct = read_items(flan_run / "data/subsets/tasks-k12-cot0.jsonl")
    maths = [(a, b) for a, b in zip(cot, direct, strict=True) if a.type == "math"]
    assert maths and all(a.id == b.id for a, b in maths)
    assert all(a.messages[-2].content.endswith("请一步一步地推理，最后给出答案。") for a, _ in maths)
    assert all(
        b.messages[-2].content.endswith("直接给出最终答案。") and len(b.gold) < len(a.gold) for a, b in maths
    )
    metrics = _json(flan_run / "metrics/settings/s-tasks-k6-cot100.json")
    for prompting in ("direct", "cot"):
        assert (
            0 <= metrics[f"test.math.{prompting}.acc"] <= 1 and f"test.math.{prompting}.continuous" in metrics
        )
    predictions = flan_run / "metrics/predictions/s-tasks-k6-cot100"
    assert (predictions / "test-direct.jsonl").is_file() and (predictions / "test-cot.jsonl").is_file()
    sensitivity = _json(flan_run / "metrics/sensitivity.json")["sets"]
    assert {"param", "tasks", "cot"} <= set(sensitivity["unseen_tasks"]["acc"])
    assert sensitivity["unseen_tasks"]["acc"]["tasks"]["scale"] == "log"
    assert sensitivity["unseen_tasks"]["acc"]["cot"]["scale"] == "linear"
    report = (flan_run / "metrics/report.md").read_text(encoding="utf-8")
    assert "## FLAN: held-out score against task count" in report
    assert (flan_run / "metrics/figures/design_flan.png").stat().st_size > 10_000


def test_limit_style_mixes_split_open_and_textbook_data_and_nest(limit_run):
    index = _json(limit_run / "data/subsets/index.json")["subsets"]
    assert (
        index["style-o50-n80"]["sizes"]["creative_writing"]
        == index["style-o50-n80"]["sizes"]["role_play"]
        == 20
    )
    assert "creative_writing" not in index["style-o0-n80"]["sizes"]
    small = {i.id for i in read_items(limit_run / "data/subsets/style-o50-n40.jsonl")}
    large = {i.id for i in read_items(limit_run / "data/subsets/style-o50-n80.jsonl")}
    assert small < large


def test_limit_answers_are_judged_in_both_orders_stored_and_cached(limit_run):
    judge = _json(limit_run / "metrics/judge.json")
    params = yaml.safe_load((limit_run / "params.yaml").read_text(encoding="utf-8"))
    for setting in params["judge"]["settings"]:
        answers = (
            (limit_run / f"metrics/predictions/{setting}/open.jsonl").read_text(encoding="utf-8").splitlines()
        )
        records = [
            json.loads(line)
            for line in (limit_run / f"metrics/judge/{setting}.jsonl").read_text().splitlines()
        ]
        assert len(records) == len(answers) == judge[f"{setting}.all.items"] > 0
        for record in records:
            assert len(record["prompts"]) == len(record["raw_verdicts"]) == len(record["verdicts"]) == 2
            assert record["outcome"] in ("win", "tie", "inconsistent", "loss", "unparsable")
        counted = sum(
            judge[f"{setting}.all.{k}"] for k in ("win", "tie", "inconsistent", "loss", "unparsable")
        )
        assert counted == judge[f"{setting}.all.items"]
    cache = (limit_run / "metrics/judge_cache/responses.jsonl").read_text(encoding="utf-8").splitlines()
    assert 0 < sum(judge[f"{s}.requests"] for s in params["judge"]["settings"]) <= len(cache)
    sh("dvc", "repro", "-f", "-s", "judge", cwd=limit_run)  # again: every answer comes from the cache
    again = _json(limit_run / "metrics/judge.json")
    assert all(again[f"{s}.requests"] == 0 for s in params["judge"]["settings"])
    assert {k: v for k, v in again.items() if not k.endswith(".requests")} == {
        k: v for k, v in judge.items() if not k.endswith(".requests")
    }
    report = (limit_run / "metrics/report.md").read_text(encoding="utf-8")
    assert "## LIMIT: benchmarks and a model judge" in report and "unparsable" in report
