"""A real SSH server on loopback for the SSH-remote test, from a package the project installs anyway
(asyncssh, which dvc-ssh's client is built on): public-key login, SFTP on the real file system, and
commands run by a shell (sshfs runs `cp`, `md5sum` and `uname` over exec channels).

python tests/ssh_server.py <port> <host key> <authorized public key>; prints "ready" once listening.
"""

from __future__ import annotations

import asyncio
import sys

import asyncssh


async def run_command(process: asyncssh.SSHServerProcess) -> None:
    if not process.command:  # no interactive shells
        process.exit(1)
        return
    child = await asyncio.create_subprocess_shell(
        process.command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await process.redirect(stdin=child.stdin, stdout=child.stdout, stderr=child.stderr)
    process.exit(await child.wait())


async def serve(port: int, host_key: str, authorized: str) -> None:
    await asyncssh.listen(
        "127.0.0.1",
        port,
        server_host_keys=[host_key],
        authorized_client_keys=authorized,
        sftp_factory=True,
        process_factory=run_command,
        encoding=None,  # bytes through, as sshd passes them
    )
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
