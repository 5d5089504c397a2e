"""A setting's MLflow run: step metrics written in batches, every one of them arriving."""

from mlflow.tracking import MlflowClient

from doit_study.core.tracking import STEP_BATCH, SettingRun


def test_step_metrics_are_written_in_batches_and_every_one_arrives(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    writes = []
    with SettingRun("a", "train@a", {"seed": 0}, {}) as run:
        original = run.client.log_batch

        def log_batch(run_id, metrics):
            writes.append(len(metrics))
            return original(run_id, metrics=metrics)

        monkeypatch.setattr(run.client, "log_batch", log_batch)
        for step in range(1, 601):
            run.log_step(step, {"step": step, "epoch": 1, "loss": 1.0 / step, "lr": 0.1})
        run.log_checkpoint(1, tmp_path / "epoch-01", "ab" * 32, 0.5)
    assert writes == [STEP_BATCH, 1200 - STEP_BATCH]  # two metrics a step; the rest at the checkpoint
    history = MlflowClient(uri).get_metric_history(run.run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(s, 1.0 / s) for s in range(1, 601)]
    assert MlflowClient(uri).get_run(run.run_id).info.status == "FINISHED"
