"""Outages the reliability tests cause on purpose, without touching the shared services.

- :class:`PrivateRedis`: a redis-server of our own on a free port, in a temp folder,
  that a test kills and starts again (with or without an append-only file).
- :class:`TcpProxy`: a TCP proxy in front of the shared PostgreSQL; ``cut()`` drops
  every connection and refuses new ones until ``restore()``, which is what a database
  restart looks like to its clients.
- :class:`HalfWriteStorage`: a FileSystemStorage that, while a trigger file holds a
  count, writes half of a file and then fails as a full disk does.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from django.core.files.storage import FileSystemStorage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server only this test uses; ``kill()`` is the outage."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen | None = None
        self.persistent = False
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, persistent: bool = False) -> PrivateRedis:
        self.persistent = persistent
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--dir", str(self.folder), "--daemonize", "no", "--protected-mode", "yes"]
        if persistent:
            # fsync on every write: what was acknowledged survives the SIGKILL below.
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
            for old in self.folder.glob("appendonly*"):
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 (for the server's life)
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()}")

    def restart(self, *, persistent: bool) -> PrivateRedis:
        """Make sure it runs in the given mode (restarted only when it must be)."""
        if self.proc and self.proc.poll() is None and self.persistent == persistent:
            return self
        self.kill()
        return self.start(persistent=persistent)

    def kill(self) -> None:
        """The outage: SIGKILL, so nothing is flushed on the way out."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class TcpProxy:
    """A TCP proxy to ``target`` on a free local port, run in a thread of the test."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.restore()

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self.writers |= {client_writer, server_writer}
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
        )
        self.writers -= {client_writer, server_writer}

    async def _start(self):
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _cut(self):
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()  # a reset, as when the server process dies
        self.writers.clear()

    def restore(self) -> None:
        self._run(self._start())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def wait_at_gate(timeout: float = 60) -> None:
    """Hold a file write while the gate file (path in ``STYLERECS_TEST_GATE_FILE``)
    exists: it lets through as many writes as it counts, then holds each next one until
    the test removes it (or ``timeout`` passes). No gate file: nothing is held."""
    gate = os.environ.get("STYLERECS_TEST_GATE_FILE")
    if not gate or not (path := Path(gate)).exists():
        return
    left = int(path.read_text() or 0)
    if left > 0:
        path.write_text(str(left - 1))
        return
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class HalfWriteStorage(FileSystemStorage):
    """Writes half of a file, then fails like a full disk, while the trigger file (path
    in ``STYLERECS_TEST_FAULT_FILE``) holds a count above zero; each failure counts down.
    Every write passes the gate first (``wait_at_gate``)."""

    def _save(self, name, content):
        wait_at_gate()
        trigger = Path(os.environ["STYLERECS_TEST_FAULT_FILE"])
        left = int(trigger.read_text() or 0) if trigger.exists() else 0
        if left <= 0:
            return super()._save(name, content)
        trigger.write_text(str(left - 1))
        data = content.read()
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device (injected half-way)", name)
