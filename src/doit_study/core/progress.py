"""Progress of long work with its rate and ETA: a tqdm bar on a terminal, and plain lines in a log
(DVC, Slurm, CI), written at every tenth of the work and at least once a minute, so a log never
stays silent for many minutes and a slow rate reads "12.5 s/item", not "0 items/s"."""

from __future__ import annotations

import sys
import time

LOG_EVERY_SECONDS = 60.0


def rate_text(count: float, seconds: float, unit: str) -> str:
    """Items per second when at least one a second, else seconds per item."""
    if count <= 0 or seconds <= 0:
        return f"- {unit}s/s"
    per_second = count / seconds
    return f"{per_second:.1f} {unit}s/s" if per_second >= 1 else f"{seconds / count:.1f} s/{unit}"


class Progress:
    """`update(n, note)` after each piece of work; `close()` at the end."""

    def __init__(self, label: str, total: int, unit: str, initial: int = 0, enabled: bool = True):
        from tqdm import tqdm

        self.label, self.total, self.unit, self.count, self.enabled = label, total, unit, initial, enabled
        self.start_count, self.start = initial, time.monotonic()
        self.last_line = self.start
        self.every = max(1, total // 10)
        terminal = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=label) if terminal else None

    def update(self, n: int = 1, note: str = "") -> None:
        before, self.count = self.count, self.count + n
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(note)
            self.bar.update(n)
            return
        now = time.monotonic()
        tenth = self.count // self.every != before // self.every or self.count == self.total
        if self.enabled and (tenth or now - self.last_line >= LOG_EVERY_SECONDS):
            self.last_line = now
            print(self.line(now, note), file=sys.stderr, flush=True)

    def line(self, now: float, note: str = "") -> str:
        done, seconds = self.count - self.start_count, now - self.start
        eta = (self.total - self.count) * seconds / done if done else float("nan")
        rate = rate_text(done, seconds, self.unit)
        text = f"{self.label} {self.count}/{self.total} {self.unit}s, {rate}, ETA {eta:.0f} s"
        return f"{text}, {note}" if note else text

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
