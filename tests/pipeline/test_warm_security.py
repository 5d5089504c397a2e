"""The warm stage server (doit_study.pipeline.warm) attacked by a second, unprivileged local user: a
socket folder made first in the shared temporary folder, a planted socket, a connection to the
victim's server, links planted as the lock and log files. The suite runs as root (CI and here), so
the second user is made with useradd; elsewhere these tests are skipped, saying why."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from unittest import mock

import pytest

from doit_study.pipeline import warm
from tests.helpers import ENV

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="SO_PEERCRED is Linux only")


@pytest.fixture(scope="module")
def other():
    """A second local user, with no home and no shell, removed after the module's tests."""
    if os.geteuid() != 0:
        pytest.skip("making a second local user needs root (the suite runs as root in CI)")
    if not shutil.which("useradd") or not shutil.which("userdel"):
        pytest.skip("useradd/userdel are missing: no second local user to attack with")
    name = f"doitwarm{os.getpid()}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def shared():
    """A folder every user can write to, like /tmp (tmp_path is root's own, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="doit-warm-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _as_user(user: pwd.struct_passwd, work) -> int:
    """Run `work()` in a forked child that has become `user`; the child's pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            work()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _end(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _plant_socket(folder: Path, name: str):
    """The attacker's socket at folder/name: what a connection sends is kept in folder/captured
    (the victim's environment, with its keys), and the reply is "the stage ran and exited 0"."""

    def work() -> None:
        folder.mkdir(exist_ok=True)
        folder.chmod(0o777)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(folder / name))
        (folder / name).chmod(0o777)
        listener.listen(1)
        listener.settimeout(120)
        conn, _ = listener.accept()
        conn.settimeout(10)
        data, _, _, _ = socket.recv_fds(conn, 1 << 24, 3)
        if data:
            (folder / "captured").write_bytes(data)
        with contextlib.suppress(OSError):
            conn.sendall(b'{"pid": 1}\n{"exit": 0}\n')

    return work


def test_a_folder_another_user_made_first_runs_the_stage_cold_and_leaks_nothing(other, shared, tmp_path):
    """Before the fix the victim used the attacker's 0777 folder: its request (environment, API
    keys, streams) went to the planted socket and the stage "exited 0" without running."""
    env = {**ENV, "TMPDIR": str(shared), "DOIT_STUDY_WARM": "1", "DOIT_TEST_API_KEY": "sk-secret"}
    env.pop("XDG_RUNTIME_DIR", None)
    with mock.patch.dict(os.environ, env, clear=True):
        key = warm.server_key()  # the name the victim will use, so the plant is exactly in its way
    folder = shared / f"doit-study-warm-{os.getuid()}"
    attacker = _as_user(other, _plant_socket(folder, f"{key}.sock"))
    try:
        _wait_for(folder / f"{key}.sock", 30)
        (tmp_path / "stage.py").write_text("print('ran', flush=True)\n", encoding="utf-8")
        command = [sys.executable, "-m", "doit_study.pipeline.warm", str(tmp_path / "stage.py")]
        victim = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        _end(attacker)
    assert victim.returncode == 0 and victim.stdout == "ran\n"  # the stage itself ran
    assert f"{folder} belongs to uid {other.pw_uid}" in victim.stderr and "cold" in victim.stderr
    assert not (folder / "captured").exists()  # the attacker received nothing


def test_the_client_refuses_a_server_of_another_uid(other, shared):
    folder = shared / "attacker"
    attacker = _as_user(other, _plant_socket(folder, "x.sock"))
    try:
        _wait_for(folder / "x.sock", 30)
        with pytest.raises(OSError, match=f"runs as uid {other.pw_uid}, not as this user"):
            warm._connect(folder / "x.sock")
        os.waitpid(attacker, 0)  # the plant saw the connection close, and nothing else
        attacker = None
    finally:
        if attacker:
            _end(attacker)
    assert not (folder / "captured").exists()


def _request(conn: socket.socket, stage: Path, marker: Path) -> bytes:
    """Ask the server to run `stage` (it writes `marker`); everything the server answers."""
    request = {"script": str(stage), "args": [str(marker)], "cwd": str(stage.parent), "env": dict(ENV)}
    socket.send_fds(conn, [warm.json.dumps(request).encode("utf-8") + b"\n"], [0, 1, 2])
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


@pytest.mark.slow  # a real server: its imports take a while
def test_the_server_refuses_a_connection_from_another_uid(other, shared):
    folder = shared / "server"
    folder.mkdir(mode=0o755)  # another user can reach the socket: the server's own check is what stops them
    path, log = folder / "victim.sock", folder / "server.log"
    stage = shared / "stage.py"
    stage.write_text("import sys\nopen(sys.argv[1], 'w').write('ran')\n", encoding="utf-8")
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "doit_study.pipeline.warm", "--serve", str(path)],
            env=ENV,
            stdout=out,
            stderr=out,
        )
    try:
        _wait_for(path, 300)
        path.chmod(0o777)

        def attack() -> None:
            answer = b""
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(path))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed on us
                    answer = _request(conn, stage, shared / "pwned")
            (shared / "answer").write_bytes(answer)

        attacker = _as_user(other, attack)
        _, status = os.waitpid(attacker, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert (shared / "answer").read_bytes() == b""  # closed unread: no pid, no exit status
        assert not (shared / "pwned").exists()  # the stage did not run (as the server's user)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:  # its own user is served
            conn.connect(str(path))
            assert b'{"exit": 0}' in _request(conn, stage, shared / "ran")
        assert (shared / "ran").read_text() == "ran"
    finally:
        server.kill()
        server.wait()
    assert f"refused a connection from uid {other.pw_uid}" in log.read_text()


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> Path:
    """A private XDG_RUNTIME_DIR, as a login session gives one."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


def test_the_socket_folder_is_under_xdg_runtime_dir_and_must_be_private(runtime):
    assert warm.socket_path("k") == runtime / "doit-study-warm" / "k.sock"
    assert (runtime / "doit-study-warm").stat().st_mode & 0o777 == 0o700
    (runtime / "doit-study-warm").chmod(0o755)
    with pytest.raises(OSError, match=r"open to other users \(mode 755\): chmod 700 it"):
        warm.socket_path("k")


@pytest.mark.parametrize("planted", [".lock", ".log"])
def test_a_link_planted_as_the_lock_or_log_file_is_not_followed(runtime, tmp_path, planted):
    """Before the fix, opening the lock "w" through a link emptied the file it pointed at."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me", encoding="utf-8")
    path = warm.socket_path("k")
    path.with_suffix(planted).symlink_to(precious)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        warm._server(path)  # no server is started: the open fails first
    assert precious.read_text(encoding="utf-8") == "keep me"
    assert path.with_suffix(planted).is_symlink()
    if planted == ".log":  # the lock itself was made, for this user only
        assert path.with_suffix(".lock").stat().st_mode & 0o777 == 0o600
