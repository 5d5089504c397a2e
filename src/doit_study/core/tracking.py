"""MLflow tracking and lineage records.

One MLflow run per training setting, in an experiment named after the study. Checkpoints are stored
once, by DVC; MLflow holds a reference to each (epoch, path, sha256), never a copy. Beside every
setting's checkpoints, `run.json` records where it came from, so lineage works without a server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from doit_study.core.files import DataError
from doit_study.core.redact import redact_url

EXPERIMENT = "doit-study"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # a file in the repository; MLFLOW_TRACKING_URI wins
RUN_RECORD = "run.json"
STEP_BATCH = 1000  # step metrics per write (MLflow's limit: 1000 metrics, params and tags in one batch)
FLUSH_SECONDS = 30


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    if redact_url(uri) != uri:  # MLflow prints "View run ... at <uri>" as written, credentials too
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    return uri


def require_tracking_server(timeout: float = 5.0) -> None:
    """Stop before any work when a tracking server is configured and does not answer: a run must
    not spend hours and then fail to log. A local store (sqlite, file) needs no check."""
    import urllib.error
    import urllib.request

    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(_health_request(uri), timeout=timeout) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        # a ValueError (http.client.InvalidURL) quotes the URL itself: its text is not shown
        reason = "not a valid URL" if isinstance(error, ValueError) else getattr(error, "reason", error)
        raise DataError(
            "MLFLOW_TRACKING_URI",
            f"the MLflow tracking server {redact_url(uri)} does not answer ({reason}); start it, "
            "or unset MLFLOW_TRACKING_URI to track in the repository's mlflow.db",
        ) from None


def _health_request(uri: str):
    """The server's /health, with the URI's `user:password@` sent as basic auth (as MLflow's own
    client does): urllib would take the userinfo for part of the host name."""
    import base64
    import urllib.request
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    userinfo, _, host = parts.netloc.rpartition("@")
    url = urlunsplit((parts.scheme, host, f"{parts.path.rstrip('/')}/health", parts.query, ""))
    request = urllib.request.Request(url)
    if userinfo:
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    return request


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def create_local_store(uri: str) -> None:
    """Create a SQLite store's tables under a lock: two stages that start side by side (the dispatch
    driver's jobs) would otherwise both create them, and one fails ("table ... already exists")."""
    if not uri.startswith("sqlite:///"):
        return
    import fcntl

    from mlflow.tracking import MlflowClient

    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
    descriptor = os.open(database.parent / f".{database.name}.lock", flags, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # creates or migrates the tables
    finally:
        os.close(descriptor)


class SettingRun:
    """The MLflow run of one training setting (a context manager). The stage calls
    `require_tracking_server` first, before any work."""

    def __init__(self, setting: str, stage: str, params: dict, tags: dict):
        import mlflow

        self.mlflow = mlflow
        create_local_store(tracking_uri())
        mlflow.set_tracking_uri(tracking_uri())
        mlflow.set_experiment(EXPERIMENT)
        self.run = mlflow.start_run(run_name=setting)
        self.run_id = self.run.info.run_id
        mlflow.log_params({key: str(value) for key, value in sorted(params.items())})
        mlflow.set_tags({"setting": setting, "dvc_stage": stage, "git_commit": git_commit(), **tags})
        if os.environ.get("DOIT_STUDY_SLURM_JOB"):  # set by the dispatch driver's jobs
            mlflow.set_tag("slurm_job_id", os.environ["DOIT_STUDY_SLURM_JOB"])
        self.checkpoints: list[dict] = []
        self.client = mlflow.tracking.MlflowClient()
        # step metrics written in batches (a write per step outlasts a tiny step), and at least every
        # FLUSH_SECONDS: a killed run loses no more of its loss curve than that
        self.pending: list = []
        self.flushed = time.monotonic()

    def log_step(self, step: int, metrics: dict) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        numbers = {k: v for k, v in metrics.items() if k not in ("step", "epoch")}
        self.pending += [Metric(key, float(value), now, step) for key, value in numbers.items()]
        if len(self.pending) >= STEP_BATCH or time.monotonic() - self.flushed > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        for start in range(0, len(self.pending), STEP_BATCH):
            self.client.log_batch(self.run_id, self.pending[start : start + STEP_BATCH])
        self.pending, self.flushed = [], time.monotonic()

    def log_checkpoint(self, epoch: int, path: Path, sha256: str, train_loss: float) -> None:
        self.flush()
        self.checkpoints.append({"epoch": epoch, "path": str(path), "sha256": sha256})
        self.mlflow.log_metric("epoch_train_loss", train_loss, step=epoch)
        self.mlflow.set_tag(f"checkpoint.epoch-{epoch:02d}", f"{path} sha256:{sha256}")

    def __enter__(self) -> SettingRun:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            self.flush()
            self.mlflow.log_dict({"checkpoints": self.checkpoints}, "checkpoints.json")
        finally:  # the run ends whatever the logging did, and the training's own error is the one raised
            self.mlflow.end_run(status="FAILED" if error else "FINISHED")


def find_run(setting: str, weights_sha256: str) -> dict:
    """The MLflow run that wrote a checkpoint: the newest run of the setting whose checkpoint tags
    name these weights."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri())
    shown = redact_url(tracking_uri())  # lineage prints it
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return {"mlflow_run_id": None, "reason": f"no experiment {EXPERIMENT!r} at {shown}"}
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.setting = '{setting}'",
        order_by=["attributes.start_time DESC"],
    )
    for run in runs:
        tags = run.data.tags
        if any(
            v.endswith(f"sha256:{weights_sha256}") for k, v in tags.items() if k.startswith("checkpoint.")
        ):
            return {
                "mlflow_run_id": run.info.run_id,
                "git_commit": tags.get("git_commit"),
                "tracking_uri": shown,
            }
    return {"mlflow_run_id": None, "reason": f"no run of {setting} at {shown} wrote these weights"}


def lineage(checkpoint: Path) -> dict:
    """Where a checkpoint comes from: its setting's run record, the base model's record, the raw
    manifest entries behind it, and the MLflow run (with the git commit) that wrote it."""
    checkpoint = Path(checkpoint)
    setting_dir = checkpoint if (checkpoint / RUN_RECORD).exists() else checkpoint.parent
    record = json.loads((setting_dir / RUN_RECORD).read_text(encoding="utf-8"))
    epochs = {Path(c["path"]).name: c for c in record["checkpoints"]}
    chosen = epochs.get(checkpoint.name) or record["checkpoints"][-1]
    base = json.loads((Path(record["base_model"]["path"]) / "foundation.json").read_text(encoding="utf-8"))
    manifest = json.loads(Path(record["raw_manifest"]).read_text(encoding="utf-8"))
    return {
        "checkpoint": chosen,
        "setting": record["setting"],
        "params": record["params"],
        "subset": record["subset"],
        "base_model": record["base_model"] | {"record": base},
        "raw_source": manifest["source"],
        "raw_manifest": manifest.get("materials") or manifest.get("files"),
        **find_run(record["setting"], chosen["sha256"]),
    }


def log_evaluation(
    setting: str,
    checkpoint_sha256: str,
    valid_by_epoch: dict[int, dict[str, float]],
    test_metrics: dict[str, float],
    best: dict,
) -> str:
    """Validation scores per epoch and test scores at the best checkpoint, logged to the run that
    trained the setting (found by its checkpoint hash); a new run if this store never saw it."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri())
    run_id = find_run(setting, checkpoint_sha256)["mlflow_run_id"]
    if run_id is None:
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
        tags = {
            "setting": setting,
            "mlflow.runName": setting,
            "note": "the training run is not in this tracking store (checkpoints came from dvc pull?)",
        }
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
    now = int(time.time() * 1000)
    metrics = [
        Metric(key, value, now, epoch)
        for epoch, values in sorted(valid_by_epoch.items())
        for key, value in sorted(values.items())
    ]
    metrics += [Metric(key, value, now, best["epoch"]) for key, value in sorted(test_metrics.items())]
    for start in range(0, len(metrics), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    client.set_tag(run_id, "best_epoch", str(best["epoch"]))
    client.set_tag(run_id, "best_checkpoint", f"{best['path']} sha256:{best['sha256']}")
    client.set_tag(run_id, "evaluated_by", f"evaluate@{setting}")
    if os.environ.get("DOIT_STUDY_SLURM_JOB"):
        client.set_tag(run_id, "evaluated_in_slurm_job", os.environ["DOIT_STUDY_SLURM_JOB"])
    return run_id
