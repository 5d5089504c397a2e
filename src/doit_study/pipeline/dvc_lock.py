"""Who holds DVC's locks in a workspace, asked before the project's own entry points start work.

DVC holds its repository lock (`.dvc/tmp/lock`, a zc.lockfile: an flock, the holder's pid written
in it) while it reads or records the pipeline, and lists the outputs each command writes in
`.dvc/tmp/rwlock` for as long as it runs. A second command started beside one of them either fails
on the lock at its end, after all its work, or, like the driver's `dvc status`, fails at once with
"is busy". So the driver looks first, and names the holder instead. Jobs of a dispatch driver
(`--single-item`) are not in the way: the driver waits for those (`dispatch.running_elsewhere`).
This reads DVC's files; it does not take DVC's locks for longer than the look."""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path


def lock_holders(root: Path) -> list[str]:
    """One line per live process holding DVC's repository lock or writing outputs of `root`
    (other than a driver's jobs); empty when none does."""
    import psutil

    holders = []
    repo_lock = root / ".dvc/tmp/lock"
    if repo_lock.is_file() and _held(repo_lock):
        pid = repo_lock.read_text(errors="replace").strip()
        holders.append(f"pid {pid or '?'} ({_command(pid)}) holds DVC's repository lock {repo_lock}")
    rwlock = root / ".dvc/tmp/rwlock"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        for path, info in json.loads(rwlock.read_text() or "{}").get("write", {}).items():
            if "--single-item" not in info["cmd"] and psutil.pid_exists(int(info["pid"])):
                holders.append(f"pid {info['pid']} ({info['cmd']}) is writing {path}")
    return holders


def _held(path: Path) -> bool:
    with path.open("rb") as handle:
        try:  # shared and not waiting: a holder's exclusive lock refuses it, and DVC retries ours away
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _command(pid: str) -> str:
    import psutil

    try:
        return " ".join(psutil.Process(int(pid)).cmdline()) or "?"
    except (ValueError, psutil.Error):
        return "no longer running"
