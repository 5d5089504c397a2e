"""What every stage entry point shares: its command line, declared once as the names and paths it
takes (all required; dvc.yaml writes every one), the bad-input exit path, and an exclusive hold on
the outputs it writes.

A stage that names its outputs (`outs`) holds an flock on `.<name>.lock` beside each one for its
whole run: a second run on the same output (DVC killed with its stage left running, two `dvc
repro -s` at once) stops at once naming the holder, instead of training beside it. The lock file
lies beside the output, not in it, so DVC never records it. Holding the lock, a stage may also
remove the temporary files a killed run left (`files.remove_temporaries`), at its start and again
before it ends, so they never reach what DVC records."""

from __future__ import annotations

import argparse
import fcntl
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from doit_study.core.files import DataError, remove_temporaries

EXIT_BAD_INPUT = 2

_HELD: list[tuple[Path, int]] = []  # (output, lock fd) this process holds until the stage ends


def stage_args(
    description: str,
    argv: list[str] | None,
    names: Mapping[str, str] = {},
    paths: Mapping[str, str] = {},
    outs: Sequence[str] = (),
) -> argparse.Namespace:
    """`--params` (default params.yaml) and one required `--<key>` per entry of `names` (strings:
    a setting, a size) and of `paths` (Path values); each value is the help text. Underscores in a
    key are dashes on the command line (`raw_manifest`: `--raw-manifest`). `outs`: the keys of
    `paths` the stage writes; each is held (`hold_output`) from here to the stage's end."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    for kind, declared in ((str, names), (Path, paths)):
        for key, help_text in declared.items():
            parser.add_argument(f"--{key.replace('_', '-')}", type=kind, required=True, help=help_text)
    args = parser.parse_args(argv)
    for key in outs:
        hold_output(getattr(args, key))
    return args


def lock_path(output: Path) -> Path:
    return output.parent / f".{output.name}.lock"


def hold_output(output: Path) -> None:
    """Take the exclusive lock of `output` for this process, or stop with the holder's pid and
    command; then remove what a killed run left. Under a distributed launcher only the main
    process (RANK 0) writes outputs, so only it takes the lock."""
    if os.environ.get("RANK", "0") != "0":
        return
    path = lock_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_NOFOLLOW: a planted symlink must not make us truncate a file it points to
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise DataError(path, f"cannot open the output's lock file ({error.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "a process that wrote no pid"
        os.close(fd)
        message = f"another run is writing this output ({holder}); wait for it to end, or stop it"
        raise DataError(output, message) from None
    # the file outlives its holders (unlinking it would race a waiting run): rewrite who holds it now
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}: {shlex.join(sys.argv)}\n".encode(), 0)
    _HELD.append((output, fd))
    _remove_leftovers(output)


def release_outputs() -> None:
    while _HELD:
        os.close(_HELD.pop()[1])


def _remove_leftovers(output: Path) -> None:
    for leftover in remove_temporaries(output):
        print(f"removed {leftover}: left by a run killed while writing", file=sys.stderr)


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage; bad input ends it with one clear line on stderr and exit code 2. The outputs it
    held are cleared of temporary files before it ends, and released."""
    try:
        main(argv)
        for output, _ in _HELD:
            _remove_leftovers(output)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        release_outputs()
