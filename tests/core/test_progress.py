"""Progress in a log: rates below one a second read as seconds per item, and a slow job still
writes a line at least once a minute."""

from doit_study.core import progress
from doit_study.core.progress import Progress, rate_text


def test_a_slow_rate_reads_as_seconds_per_item():
    assert rate_text(1, 12.5, "item") == "12.5 s/item"
    assert rate_text(30, 2.0, "item") == "15.0 items/s"
    assert rate_text(0, 3.0, "step") == "- steps/s"


def test_a_log_gets_a_line_at_every_tenth_and_at_least_once_a_minute(monkeypatch, capsys):
    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    bar = Progress("valid", total=1000, unit="item")  # stderr is not a terminal under pytest
    for _ in range(5):  # 5 items in 5 minutes: no tenth reached, one line a minute
        clock[0] += 60.0
        bar.update(1)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and lines[-1].startswith("valid 5/1000 items, 60.0 s/item, ETA 59700 s")
    clock[0] += 1.0
    bar.update(95)  # a tenth of the work
    assert "valid 100/1000 items" in capsys.readouterr().err
    clock[0] += 1.0
    bar.update(1, "loss 0.5")  # neither a tenth nor a minute: quiet
    assert capsys.readouterr().err == ""
