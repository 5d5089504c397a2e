"""The train stage under `accelerate launch` with two CPU processes (DDP over gloo) gives the
losses and weights of the single-process run with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from doit_study.modeling import TinyLlama, new_tiny_llama
from doit_study.tokenizer_training import train_tokenizer
from tests.conftest import REPO

pytestmark = pytest.mark.slow
QUESTIONS = [(f"第{i}题：{i}加{i + 1}等于几？", f"{i}加{i + 1}等于{2 * i + 1}。") for i in range(12)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    tokenizer = train_tokenizer([q + a for q, a in QUESTIONS] * 4, vocab_size=300)
    model = new_tiny_llama(TinyLlama(32, 2, 4, 64, 128), tokenizer, seed=0)
    model.save_pretrained(root / "base", safe_serialization=True)
    tokenizer.save_pretrained(root / "base")
    lines = [
        json.dumps(
            {
                "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                "type": "math",
                "answer": str(2 * i + 1),
            },
            ensure_ascii=False,
        )
        for i, (q, a) in enumerate(QUESTIONS)
    ]
    (root / "subset.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = yaml.safe_load((REPO / "profiles/smoke.yaml").read_text(encoding="utf-8"))
    params["train"] = {
        "seed": 0,
        "max_length": 64,
        "settings": {"ddp": {"size": "s", "subset": "subset"}},
        "optim": {"epochs": 2, "peak_lr": 3e-3, "end_lr": 3e-4, "global_batch": 4, "micro_batch": 2},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return root


def _train(root: Path, out: str, launcher: list[str]) -> Path:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / (out + '.db')}", "OMP_NUM_THREADS": "1"}
    args = [
        "--params",
        "params.yaml",
        "--setting",
        "ddp",
        "--size",
        "s",
        "--subset",
        "subset.jsonl",
        "--base",
        "base",
        "--raw-manifest",
        "manifest.json",
        "--valid",
        "valid",
        "--out",
        out,
    ]
    result = subprocess.run(
        [*launcher, str(REPO / "stages/train.py"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / out


def _step_losses(root: Path, out: str) -> list[float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / (out + '.db')}")
    [run] = client.search_runs([client.get_experiment_by_name("doit-study").experiment_id])
    return [m.value for m in sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)]


def test_two_processes_match_one(setup):
    single = _train(setup, "single", [sys.executable])
    accelerate = Path(sys.executable).parent / "accelerate"
    double = _train(
        setup,
        "double",
        [
            str(accelerate),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
        ],
    )
    one, two = _step_losses(setup, "single"), _step_losses(setup, "double")
    assert len(one) == len(two) == 6
    assert one == pytest.approx(two, rel=1e-5)
    record = json.loads((double / "epoch-02/checkpoint.json").read_text(encoding="utf-8"))
    assert record["processes"] == 2
    a, b = load_file(single / "epoch-02/model.safetensors"), load_file(double / "epoch-02/model.safetensors")
    assert all(torch.allclose(a[name], b[name], atol=1e-5) for name in a)
