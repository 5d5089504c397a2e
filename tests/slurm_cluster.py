"""A real one-node Slurm cluster on loopback for the dispatch test: munged, slurmctld and slurmd from
Debian's packages (slurm-wlm, munge), their configuration, keys and state in a temporary folder,
non-default ports, run as the current user (root in CI), every daemon stopped at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def missing() -> list[str]:
    return [name for name in (*DAEMONS, "sbatch", "squeue", "scancel") if not _which(name)]


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.exists()), None
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(root: Path, cpus: int, memory_mb: int) -> str:
    user = os.environ.get("USER") or "root"
    node = socket.gethostname()
    return f"""ClusterName=doit-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def slurm_cluster(root: Path, cpus: int = 2, memory_mb: int = 8000, timeout: float = 120) -> Iterator[dict]:
    """Start the cluster; yield the environment its clients need (SLURM_CONF)."""
    for folder in ("munge", "state", "spool"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)
    key = root / "munge/munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(_config(root, cpus, memory_mb), encoding="utf-8")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    munge = [
        _which("munged"),
        "--force",
        f"--key-file={key}",
        f"--socket={root}/munge/munge.socket.2",
        f"--pid-file={root}/munge/munged.pid",
        f"--log-file={root}/munge/munged.log",
        f"--seed-file={root}/munge/munged.seed",
    ]
    daemons = []
    try:
        subprocess.run(munge, check=True, env=env, timeout=30)  # forks into the background
        for command in (
            [_which("slurmctld"), "-D", "-f", str(conf)],
            [_which("slurmd"), "-D", "-f", str(conf)],
        ):
            daemons.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        deadline = time.monotonic() + timeout
        while True:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True
            ).stdout
            if state.strip() in ("idle", "mix"):
                break
            if time.monotonic() > deadline or any(d.poll() is not None for d in daemons):
                logs = "\n".join(
                    (root / n).read_text() for n in ("slurmctld.log", "slurmd.log") if (root / n).exists()
                )
                raise RuntimeError(f"the Slurm cluster did not come up (sinfo: {state!r})\n{logs[-3000:]}")
            time.sleep(0.5)
        yield {"SLURM_CONF": str(conf)}
    finally:
        subprocess.run(["scancel", "--user", os.environ.get("USER") or "root"], env=env, check=False)
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            with contextlib.suppress(subprocess.TimeoutExpired):
                daemon.wait(timeout=20)
        pid = root / "munge/munged.pid"
        if pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid.read_text().strip()), 15)
