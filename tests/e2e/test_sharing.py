"""How a team shares the study: DVC remotes (a local directory and a real SSH server), a fresh clone
that pulls everything and reproduces nothing, corruption in the remote, branch diffs, experiments
and the queue, and an MLflow tracking server. All on the smoke study the pipeline tests reproduced."""

import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.helpers import ENV, REPO, free_port, sh

pytestmark = pytest.mark.slow


def _outputs(root: Path) -> dict[str, str]:
    """Every output path of dvc.lock with its recorded hash."""
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    return {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}


@pytest.fixture(scope="module")
def published(smoke_rerun, tmp_path_factory):
    """The second smoke run, committed and pushed to a local-directory remote that verifies hashes."""
    root = smoke_rerun
    remote = tmp_path_factory.mktemp("remote")
    sh("dvc", "remote", "add", "-d", "storage", str(remote), cwd=root)
    sh("dvc", "remote", "modify", "storage", "verify", "true", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "smoke study", cwd=root)
    sh("dvc", "push", cwd=root)
    return root, remote


def _clone(root: Path, target: Path, pull: bool = True) -> Path:
    sh("git", "clone", "-q", str(root), str(target), cwd=target.parent)
    if pull:
        sh("dvc", "pull", cwd=target)
    return target


def _assert_restored(clone: Path, root: Path) -> None:
    assert "up to date" in sh("dvc", "status", cwd=clone)
    assert "Running stage" not in sh("dvc", "repro", cwd=clone)
    for path in _outputs(root):
        assert (clone / path).exists(), path
    weights = "models/sft/s-curated-n4/epoch-02/model.safetensors"
    assert (clone / weights).read_bytes() == (root / weights).read_bytes()


def test_a_fresh_clone_pulls_every_output_and_reproduces_nothing(published, tmp_path):
    root, _ = published
    clone = _clone(root, tmp_path / "clone")
    _assert_restored(clone, root)


def test_a_corrupted_file_in_the_remote_is_refused_on_pull(published, tmp_path):
    root, remote = published
    damaged = tmp_path / "damaged-remote"
    shutil.copytree(remote, damaged)
    # corrupt the largest object: a checkpoint's weights
    victim = max(
        (p for p in damaged.rglob("*") if p.is_file() and p.suffix != ".dir"), key=lambda p: p.stat().st_size
    )
    victim.chmod(0o644)
    victim.write_bytes(b"not the weights")
    clone = _clone(root, tmp_path / "clone", pull=False)
    sh("dvc", "remote", "modify", "--local", "storage", "url", str(damaged), cwd=clone)
    result = subprocess.run(["dvc", "pull"], cwd=clone, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert not any(
        p.is_file() and p.read_bytes() == b"not the weights" for p in (clone / "models").rglob("*")
    ), "a corrupted file reached the workspace"


@pytest.fixture
def ssh_server(tmp_path):
    """A real SSH server (tests/ssh_server.py: asyncssh, with SFTP and exec) on loopback, with a
    throwaway host key and client key; the client trusts exactly that host key."""
    import asyncssh

    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host", "client"):
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(keys / name))
        key.write_public_key(str(keys / f"{name}.pub"))
    port = free_port()
    command = [
        sys.executable,
        str(REPO / "tests/ssh_server.py"),
        str(port),
        str(keys / "host"),
        str(keys / "client.pub"),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready", server.stderr.read()
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    host_key = (keys / "host.pub").read_text().split()
    (home / ".ssh/known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    yield {"port": port, "key": keys / "client", "home": home, "user": getpass.getuser()}
    server.terminate()
    server.wait(timeout=10)


def _ssh_remote(repo: Path, server: dict, folder: Path) -> None:
    url = f"ssh://{server['user']}@127.0.0.1{folder}"
    sh("dvc", "remote", "add", "--local", "-f", "team", url, cwd=repo)
    sh("dvc", "remote", "modify", "--local", "team", "port", str(server["port"]), cwd=repo)
    sh("dvc", "remote", "modify", "--local", "team", "keyfile", str(server["key"]), cwd=repo)


def test_push_and_pull_through_an_ssh_remote(published, ssh_server, tmp_path, monkeypatch):
    root, _ = published
    monkeypatch.setitem(ENV, "HOME", str(ssh_server["home"]))
    folder = tmp_path / "ssh-remote"
    folder.mkdir()
    _ssh_remote(root, ssh_server, folder)
    sh("dvc", "push", "-r", "team", cwd=root)
    assert any(folder.rglob("*.dir")), "nothing arrived over SSH"
    clone = _clone(root, tmp_path / "clone", pull=False)
    _ssh_remote(clone, ssh_server, folder)
    sh("dvc", "pull", "-r", "team", cwd=clone)
    _assert_restored(clone, root)
    sh("dvc", "remote", "remove", "--local", "team", cwd=root)


def test_a_branch_with_another_setting_diffs_against_main(published, tmp_path):
    root, _ = published
    clone = _clone(root, tmp_path / "clone")
    sh("git", "checkout", "-q", "-b", "more-data", cwd=clone)
    params = yaml.safe_load((clone / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["settings"]["s-curated-n16"] = {"foundation": "s", "subset": "curated-n16", "seed": 0}
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    output = sh("dvc", "repro", cwd=clone)
    assert (
        "Running stage 'train@s-curated-n16'" in output and "Running stage 'train@s-curated-n4'" not in output
    )

    assert "train.settings.s-curated-n16" in sh("dvc", "params", "diff", "main", cwd=clone)
    metrics = json.loads(sh("dvc", "metrics", "diff", "main", "--json", cwd=clone))
    new = metrics["metrics/settings/s-curated-n16.json"]
    assert new["overall"]["old"] is None and new["overall"]["new"] is not None
    assert any(v["diff"] for v in metrics["metrics/sensitivity.json"].values() if v.get("diff"))
    plots = json.loads(sh("dvc", "plots", "diff", "main", "--json", cwd=clone))["data"]
    values = [v for entry in plots["metrics/plots/overall.csv"] for v in entry["content"]["data"]["values"]]
    points = {(v["rev"], float(v["data_volume"])) for v in values}
    assert ("workspace", 160.0) in points and ("main", 160.0) not in points and ("main", 40.0) in points


def test_keeping_only_the_best_checkpoint_stores_one_and_scores_the_same(published, tmp_path):
    root, _ = published
    clone, setting = _clone(root, tmp_path / "clone"), "s-curated-n4"
    params = yaml.safe_load((clone / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["keep_checkpoints"] = "best"
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    output = sh("dvc", "repro", f"evaluate@{setting}", cwd=clone)
    assert f"Running stage 'train@{setting}'" in output and "Running stage 'train@s-curated-n1'" not in output

    metrics_file = f"metrics/settings/{setting}.json"
    metrics = json.loads((clone / metrics_file).read_text(encoding="utf-8"))
    assert metrics == json.loads((root / metrics_file).read_text(encoding="utf-8"))
    predictions = sorted(p.name for p in (root / "metrics/predictions" / setting).iterdir())
    assert "valid-epoch-01.jsonl" in predictions and "valid-epoch-02.jsonl" in predictions
    for name in predictions:  # every epoch's valid predictions, though only one checkpoint is left
        assert (clone / "metrics/predictions" / setting / name).read_bytes() == (
            root / "metrics/predictions" / setting / name
        ).read_bytes(), name
    folder = clone / "models/sft" / setting
    assert sorted(p.name for p in folder.glob("epoch-*")) == [f"epoch-{metrics['best_epoch']:02d}"]

    def checkpoint_files(repo: Path) -> int:  # what dvc.lock records is what dvc push sends
        lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))
        return lock["stages"][f"train@{setting}"]["outs"][0]["nfiles"]

    assert checkpoint_files(clone) < checkpoint_files(root)
    weights = next(folder.glob("epoch-*/model.safetensors"))
    written, hashes = weights.stat().st_mtime_ns, _outputs(clone)
    sh("dvc", "repro", "-f", "-s", f"train@{setting}", cwd=clone)  # finished: nothing to train again
    assert weights.stat().st_mtime_ns == written and _outputs(clone) == hashes


def test_the_train_stage_runs_under_the_configured_launcher(published, tmp_path):
    """train.launcher: dvc repro itself starts accelerate with several processes (here two on CPU)."""
    root, _ = published
    clone = _clone(root, tmp_path / "clone")
    params = yaml.safe_load((clone / "params.yaml").read_text(encoding="utf-8"))
    two_processes = "--multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no"
    params["train"]["launcher"] = f"accelerate launch {two_processes}"
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    assert "train@s-curated-n4" in sh("dvc", "status", "train@s-curated-n4", cwd=clone)  # the command changed
    shutil.rmtree(clone / "models/sft/s-curated-n4")
    sh("dvc", "repro", "-s", "train@s-curated-n4", cwd=clone)
    record = json.loads(
        (clone / "models/sft/s-curated-n4/epoch-02/checkpoint.json").read_text(encoding="utf-8")
    )
    assert record["processes"] == 2


def _levels(document) -> set[float]:
    """Every analysis.resampling.level found in `dvc exp show --json` output."""
    found = set()
    if isinstance(document, dict):
        level = (
            document.get("analysis", {}).get("resampling", {}).get("level")
            if isinstance(document.get("analysis"), dict)
            else None
        )
        if level is not None:
            found.add(float(level))
        for value in document.values():
            found |= _levels(value)
    elif isinstance(document, list):
        for value in document:
            found |= _levels(value)
    return found


def test_experiments_run_queue_and_show(published, tmp_path):
    root, _ = published
    clone = _clone(root, tmp_path / "clone")
    output = sh("dvc", "exp", "run", "-S", "analysis.resampling.level=0.9", cwd=clone)
    assert "Running stage 'analyse'" in output and "Running stage 'train@" not in output
    sh("dvc", "exp", "run", "--queue", "-S", "analysis.resampling.level=0.8", cwd=clone)
    sh("dvc", "queue", "start", "-j", "1", cwd=clone)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = sh("dvc", "queue", "status", cwd=clone)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert "Failed" not in status, status
    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=clone))
    assert {0.95, 0.9, 0.8} <= _levels(shown)
    assert "sensitivity.json" in json.dumps(shown)
    sh("dvc", "queue", "stop", cwd=clone)


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--default-artifact-root",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                break
        except OSError:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
    yield uri
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def test_a_tracking_server_receives_runs_metrics_tags_and_checkpoints(
    published, mlflow_server, tmp_path, monkeypatch
):
    from mlflow.tracking import MlflowClient

    root, _ = published
    clone = _clone(root, tmp_path / "clone")
    monkeypatch.setitem(ENV, "MLFLOW_TRACKING_URI", mlflow_server)
    shutil.rmtree(clone / "models/sft/s-curated-n4")  # trained for real, not resumed as complete
    for stage in ("train@s-curated-n4", "evaluate@s-curated-n4", "train_mix@reconstruct"):
        sh("dvc", "repro", "-f", "-s", stage, cwd=clone)
    assert "up to date" in sh("dvc", "status", cwd=clone)  # the same bytes as the published run

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("doit-study")
    runs = {r.data.tags["setting"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"s-curated-n4", "mix-reconstruct"}
    run = runs["s-curated-n4"]
    assert run.data.tags["dvc_stage"] == "train@s-curated-n4" and len(run.data.tags["subset_sha256"]) == 64
    assert "checkpoint.epoch-02" in run.data.tags and run.data.tags["best_checkpoint"].startswith(
        "models/sft/"
    )
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "valid.score")) == [1, 2]
    assert "test.math.acc" in run.data.metrics and client.get_metric_history(run.info.run_id, "loss")
    assert runs["mix-reconstruct"].data.tags["dvc_stage"] == "train_mix@reconstruct"


def _interrupt(clone: Path, stage: str, sign: signal.Signals, ready) -> None:
    """Run one stage and send `sign` to its whole process group as soon as `ready(lines)` holds for
    the lines it has printed so far."""
    process = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", stage],
        cwd=clone,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not ready(lines) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, f"{stage} ended (exit {process.returncode}) before it could be interrupted"
    os.killpg(process.pid, sign)
    assert process.wait(timeout=60) != 0, "".join(lines)


def test_an_interrupted_repro_ends_with_the_same_results(published, tmp_path):
    root, _ = published
    clone = _clone(root, tmp_path / "clone")
    checkpoints = clone / "models/sft/s-curated-n4"
    shutil.rmtree(checkpoints)
    _interrupt(clone, "train@s-curated-n4", signal.SIGKILL, lambda _: checkpoints.exists())  # as it trains

    def first_epoch_scored(lines: list[str]) -> bool:  # mid-evaluation: epoch 2 is being scored
        return any("valid epoch 1:" in line for line in lines)

    _interrupt(clone, "evaluate@m-curated-n4", signal.SIGINT, first_epoch_scored)
    sh("dvc", "repro", cwd=clone)
    assert "up to date" in sh("dvc", "status", cwd=clone)
    assert _outputs(clone) == _outputs(root)
    for setting in ("s-curated-n4", "m-curated-n4"):
        metrics = f"metrics/settings/{setting}.json"
        assert (clone / metrics).read_bytes() == (root / metrics).read_bytes()
