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

from doit_study.modeling.checkpoints import last_complete_epoch
from tests.helpers import FIXTURES, REPO, tiny_llama

pytestmark = pytest.mark.slow
QUESTIONS = [(f"第{i}题：{i}加{i + 1}等于几？", f"{i}加{i + 1}等于{2 * i + 1}。") for i in range(12)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tokenizer):
    root = tmp_path_factory.mktemp("ddp")
    model = tiny_llama(tokenizer, seed=0)
    model.save_pretrained(root / "base", safe_serialization=True)
    tokenizer.save_pretrained(root / "base")
    record = {"model": "s", "size": "s", "seed": 0}  # what the foundation stage writes beside it
    (root / "base" / "foundation.json").write_text(json.dumps(record), encoding="utf-8")
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
    params["train"] |= {
        "max_length": 64,
        # the name of a subset expand writes (the stage is given subset.jsonl), on a foundation model
        "settings": {"ddp": {"foundation": "s", "subset": "curated-n4", "seed": 0}},
        # three micro-batches per global batch: one of two processes has an empty slot every step
        "optim": {
            "epochs": 2,
            "peak_lr": 3e-3,
            "end_lr": 3e-4,
            "global_batch": 6,
            "micro_batch": 2,
            "length_group": 1,
        },
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return root


def _train(root: Path, out: str, launcher: list[str], params: str = "params.yaml", run: str = "") -> Path:
    """Train into root/out, tracking in root/<run or out>.db (one MLflow run per store)."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / ((run or out) + '.db')}",
        "OMP_NUM_THREADS": "1",
    }
    args = [
        "--params",
        params,
        "--setting",
        "ddp",
        "--stage",
        "train@ddp",
        "--foundation",
        "s",
        "--seed",
        "0",
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


TWO_PROCESSES = [
    str(Path(sys.executable).parent / "accelerate"),
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
]


def test_two_processes_match_one(setup):
    single = _train(setup, "single", [sys.executable])
    double = _train(setup, "double", TWO_PROCESSES)
    one, two = _step_losses(setup, "single"), _step_losses(setup, "double")
    assert len(one) == len(two) == 4
    assert one == pytest.approx(two, rel=1e-5)
    record = json.loads((double / "epoch-02/checkpoint.json").read_text(encoding="utf-8"))
    assert record["processes"] == 2
    a, b = load_file(single / "epoch-02/model.safetensors"), load_file(double / "epoch-02/model.safetensors")
    assert all(torch.allclose(a[name], b[name], atol=1e-5) for name in a)


@pytest.fixture(scope="module")
def sharded(setup):
    """train.sharding: fsdp. Returns the params file and the single-process run."""
    params = yaml.safe_load((setup / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["sharding"] = "fsdp"
    (setup / "fsdp.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return "fsdp.yaml", _train(setup, "fsdp-single", [sys.executable], "fsdp.yaml")


def test_two_sharded_processes_match_one(setup, sharded):
    """FSDP: each process holds half of the parameters, gradients and optimizer state."""
    _, single = sharded
    sharded = _train(setup, "fsdp-double", TWO_PROCESSES, "fsdp.yaml")
    one, two = _step_losses(setup, "fsdp-single"), _step_losses(setup, "fsdp-double")
    assert len(one) == len(two) == 4
    assert one == pytest.approx(two, rel=1e-5)
    record = json.loads((sharded / "epoch-02/checkpoint.json").read_text(encoding="utf-8"))
    assert record["processes"] == 2 and record["sharding"] == "fsdp"
    weights = "epoch-02/model.safetensors"
    a, b = load_file(single / weights), load_file(sharded / weights)
    assert a.keys() == b.keys() and all(torch.allclose(a[name], b[name], atol=1e-5) for name in a)


def test_a_killed_sharded_run_resumes_to_the_same_weights(setup):
    """Resuming a sharded run loads the full checkpoint (weights and optimizer state) into the
    shards of every process."""
    script = FIXTURES / "sharded_train.py"

    def launch(out: str, kill_epoch: int) -> subprocess.CompletedProcess:
        command = [*TWO_PROCESSES, str(script), str(setup), out, str(kill_epoch)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run(command, cwd=setup, env=env, capture_output=True, text=True, timeout=600)

    full = launch("sharded-full", 0)
    assert full.returncode == 0, full.stderr[-3000:]
    assert launch("sharded-killed", 2).returncode != 0
    assert last_complete_epoch(setup / "sharded-killed") == 1
    resumed = launch("sharded-killed", 0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    weights = "epoch-02/model.safetensors"
    killed, uninterrupted = setup / "sharded-killed" / weights, setup / "sharded-full" / weights
    assert killed.read_bytes() == uninterrupted.read_bytes()


def test_sharded_bf16_computes_in_bfloat16_and_keeps_float32_weights(setup, sharded):
    launcher = [*TWO_PROCESSES[:-4], "--mixed_precision", "bf16", *TWO_PROCESSES[-2:]]
    out = _train(setup, "fsdp-bf16", launcher, "fsdp.yaml")
    exact, rounded = _step_losses(setup, "fsdp-single"), _step_losses(setup, "fsdp-bf16")
    assert rounded != exact  # the blocks really ran in bfloat16
    assert rounded == pytest.approx(exact, rel=0.05)
    weights = load_file(out / "epoch-02/model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
