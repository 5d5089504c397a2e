"""Stages in a warm process: `python -m doit_study.pipeline.warm stages/<stage>.py <args>` runs the stage as
`python stages/<stage>.py <args>` would, in a child forked from a server that has already imported
torch, transformers, MLflow and the other heavy libraries (about 10 s per stage on 2 cores, often
more than the stage's own work). The child gets the caller's working directory, environment,
arguments and standard streams (passed as file descriptors), so what it prints and writes is what
the cold process would print and write; its exit status is the caller's.

One server per workspace, interpreter, library versions and environment (a different environment,
another workspace or an upgraded library gets its own), started by the first stage that needs it
and gone after `IDLE_SECONDS` without work. The library's own modules are never preloaded: each
child imports them from disk, so an edited module is what runs. A child whose caller dies (killed
by DVC, Ctrl-C, a cancelled job) kills itself. `DOIT_STUDY_WARM=0`, a distributed launcher
(`LOCAL_RANK` set) or any failure to reach a server runs the stage cold, as before.

A server receives its caller's whole environment (API keys included) and standard streams, so it is
private to its user: its socket lives in a folder the user owns and nobody else can enter
(`$XDG_RUNTIME_DIR/doit-study-warm`, else `<tmp>/doit-study-warm-<uid>`; a folder that another user
made first, or that others can open, runs the stage cold, saying why), each side checks the other's
uid on every connection (SO_PEERCRED), and the lock and log files are opened without following links.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import runpy
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from importlib import metadata
from pathlib import Path

# imported by the server once; their import-time state is what every child starts from
PRELOAD = (
    "torch",
    "transformers",
    "transformers.models.llama.modeling_llama",
    "transformers.generation",
    "accelerate",
    "safetensors.torch",
    "tokenizers",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "math_verify",
    "pydantic",
    "yaml",
    "tqdm",
    "pandas",
    "scipy.stats",
    "sklearn.linear_model",
)
DISTRIBUTIONS = (
    "torch",
    "transformers",
    "accelerate",
    "safetensors",
    "tokenizers",
    "mlflow",
    "math-verify",
    "pandas",
    "scipy",
    "scikit-learn",
)
IDLE_SECONDS = int(os.environ.get("DOIT_STUDY_WARM_IDLE", "300"))  # then the server exits
START_SECONDS = 180  # the server's imports, on a slow machine
# set per stage or per job (DVC, Slurm, submitit, the GPUs a job is given); read at run time only
_PER_JOB = ("DVC_STAGE", "SLURM_", "SUBMITIT_", "DOIT_STUDY_SLURM_JOB", "CUDA_VISIBLE_DEVICES")


def server_key() -> str:
    """What a server's preloaded state depends on: interpreter, library versions, environment."""
    env = sorted((k, v) for k, v in os.environ.items() if not k.startswith(_PER_JOB))
    versions = []
    for name in DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append((name, metadata.version(name)))
    text = json.dumps([sys.executable, sys.version, versions, env])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def socket_path(key: str) -> Path:
    return socket_folder() / f"{key}.sock"


def socket_folder() -> Path:
    """This user's private folder for servers' sockets, locks and logs; an OSError when it is not
    private. In the shared temporary folder another user can create the name first and then replace
    the socket with their own: such a folder is refused, never used."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")  # the user's own, 0700, on a systemd login
    base = Path(runtime) / "doit-study-warm" if runtime else None
    folder = base or Path(tempfile.gettempdir()) / f"doit-study-warm-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{folder} is not a folder (a link?): remove it")
    if info.st_uid != os.getuid():
        raise OSError(
            f"{folder} belongs to uid {info.st_uid}, not to this user: remove it or set XDG_RUNTIME_DIR"
        )
    if info.st_mode & 0o077:
        raise OSError(f"{folder} is open to other users (mode {info.st_mode & 0o777:o}): chmod 700 it")
    return folder


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel saw it connect."""
    if not hasattr(socket, "SO_PEERCRED"):  # Linux only: unchecked would mean unsafe
        raise OSError("SO_PEERCRED is not available here: the warm server's user cannot be checked")
    size = struct.calcsize("iII")  # struct ucred: pid_t pid, uid_t uid, gid_t gid
    return struct.unpack("iII", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))[1]


def _private_file(path: Path, flags: int) -> int:
    """A descriptor on `path`, created 0600; a link there is an error, not followed (a link planted
    as the lock file would otherwise have the caller truncate whatever it points at)."""
    return os.open(path, flags | os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


# ---- the caller ----


def _connect(path: Path) -> socket.socket | None:
    """A connection to the server at `path`; None when none listens there, an OSError when the one
    listening is another user's (it would get this user's environment and streams)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    try:
        uid = peer_uid(conn)
    except OSError:
        conn.close()
        raise
    if uid != os.getuid():
        conn.close()
        raise OSError(f"the warm server at {path} runs as uid {uid}, not as this user (uid {os.getuid()})")
    return conn


def _server(path: Path) -> socket.socket:
    """A connection to the warm server at `path`, started first when none answers."""
    conn = _connect(path)
    if conn:
        return conn
    with open(_private_file(path.with_suffix(".lock"), 0), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one caller starts the server; the others wait for it
        conn = _connect(path)
        if conn:
            return conn
        path.unlink(missing_ok=True)
        log = _private_file(path.with_suffix(".log"), os.O_APPEND)
        command = [sys.executable, "-m", "doit_study.pipeline.warm", "--serve", str(path)]
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        os.close(log)  # the server has its own copy
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            conn = _connect(path)
            if conn:
                return conn
            time.sleep(0.05)
    raise OSError(f"no warm server at {path} after {START_SECONDS} s (log: {path.with_suffix('.log')})")


def _lines(conn: socket.socket):
    buffer = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)


def run_warm(script: str, args: list[str]) -> int:
    """Run `script` with `args` in a warm child; its exit status."""
    conn = _server(socket_path(server_key()))
    request = {"script": script, "args": args, "cwd": os.getcwd(), "env": dict(os.environ)}
    socket.send_fds(conn, [json.dumps(request).encode("utf-8") + b"\n"], [0, 1, 2])
    messages = _lines(conn)
    started = next(messages, None)
    if started is None:  # the stage did not start: running it cold is safe
        raise OSError("the warm server closed the connection before the stage started")
    child = started["pid"]

    def forward(number, frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, number)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    for message in messages:
        if "exit" in message:
            return message["exit"]
    print(f"error: the stage's process {child} ended without an exit status", file=sys.stderr)
    return 1


def main(argv: list[str]) -> None:
    if argv[:1] == ["--serve"]:
        serve(Path(argv[1]))
        return
    script, args = argv[0], argv[1:]
    if os.environ.get("DOIT_STUDY_WARM", "1") != "0" and "LOCAL_RANK" not in os.environ:
        try:
            code = run_warm(script, args)
        except OSError as error:
            print(f"warm process unavailable ({error}); running {script} cold", file=sys.stderr)
        else:
            sys.exit(code)
    os.execv(sys.executable, [sys.executable, script, *args])


# ---- the server ----


def freeze_heap() -> None:
    """The preloaded libraries' objects (millions) moved out of the garbage collector's sight:
    otherwise every full collection in a child walks all of them again, a few tenths of a second
    each time (measured: 0.4 s of an evaluation's 4 s), and touching them would copy the pages
    fork shares. `gc.freeze`, as pre-fork servers do."""
    import gc

    gc.collect()
    gc.freeze()


def serve(path: Path) -> None:
    for name in PRELOAD:
        __import__(name)
    freeze_heap()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    listener.settimeout(IDLE_SECONDS)
    children: set[int] = set()
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            children = {pid for pid in children if os.waitpid(pid, os.WNOHANG) == (0, 0)}
            if not children:
                break
            continue
        uid = peer_uid(conn)
        if uid != os.getuid():  # another user's request is never read, nor run as this user
            print(f"refused a connection from uid {uid}", file=sys.stderr, flush=True)
            conn.close()
            continue
        message, fds, _, _ = socket.recv_fds(conn, 1 << 24, 3)
        pid = os.fork()
        if pid == 0:
            try:
                listener.close()
                _child(conn, json.loads(message), fds)
            except BaseException:
                traceback.print_exc()
            finally:  # a child never returns to the server's loop
                os._exit(1)
        for fd in fds:
            os.close(fd)
        conn.close()
        children.add(pid)
        children = {p for p in children if os.waitpid(p, os.WNOHANG) == (0, 0)}
    path.unlink(missing_ok=True)


def _child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """Become the stage's process: the caller's streams, directory, environment and arguments."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin, sys.stdout, sys.stderr = _stream(0, "r"), _stream(1, "w"), _stream(2, "w")
    script = request["script"]
    sys.argv = [script, *request["args"]]
    sys.path[0] = str(Path(script).resolve().parent)
    conn.sendall(json.dumps({"pid": os.getpid()}).encode("utf-8") + b"\n")

    def die_with_the_caller() -> None:
        while conn.recv(1):
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=die_with_the_caller, daemon=True).start()
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:  # printed as the interpreter prints it
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # as the interpreter does at exit (MLflow, logging, multiprocessing)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps({"exit": code}).encode("utf-8") + b"\n")
    os._exit(code)


def _stream(fd: int, mode: str):
    """A standard stream on `fd`, buffered as the interpreter buffers it."""
    interactive = os.isatty(fd)
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED")) and mode == "w"
    errors = "backslashreplace" if fd == 2 else "strict"
    buffering = 1 if interactive or fd == 2 else -1  # 1: line-buffered
    stream = open(fd, mode, buffering, encoding="utf-8", errors=errors, closefd=False)  # noqa: SIM115
    if unbuffered:
        stream.reconfigure(write_through=True)
    return stream


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main(sys.argv[1:])
