"""Run a function in a long-lived child process, so that its crash is not ours.

Pillow's first advice for untrusted images is to decode them in a separate process: a
bug in a C decoder may segfault, and in the worker itself that would kill every job in
flight. :func:`run_isolated` sends one call at a time to a single child; if the child
dies or hangs, the caller gets an exception and the next call a fresh child.

The child is a plain ``subprocess`` (``python -m stylerecs.engine.isolation``) talking
length-prefixed pickles over its stdin/stdout, not a ``multiprocessing`` process:
Celery's prefork pool runs tasks in daemonic processes, which ``multiprocessing`` does
not allow to have children, and a fresh interpreter inherits no CUDA state or threads.

Standard library only: this is imported by the decoding path, which stays torch-free.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

__all__ = ["IsolatedCrash", "IsolatedTimeout", "child_pid", "run_isolated", "shutdown"]

T = TypeVar("T")
_HEADER = struct.Struct("!Q")


class IsolatedCrash(RuntimeError):
    """The child process died while running the call (twice, see run_isolated)."""


class IsolatedTimeout(TimeoutError):
    """The call did not finish in time; its child process was killed."""


class _ChildDied(Exception):
    pass


class _Child:
    """One child interpreter running :func:`_serve`."""

    def __init__(self) -> None:
        env = dict(os.environ)
        # The child must import what the parent can (an editable install, a test dir).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stylerecs.engine.isolation"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )

    def call(self, payload: bytes, timeout: float) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        try:
            self.proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _ChildDied from exc
        header = self._read(_HEADER.size, deadline)
        return pickle.loads(self._read(_HEADER.unpack(header)[0], deadline))

    def _read(self, size: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, remaining = [], size
        while remaining:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise _ChildDied
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()


_child: _Child | None = None
_lock = threading.Lock()  # one call at a time: the child serves calls in order


def _get_child() -> _Child:
    """The child, started on first use (never at import, so never inherited by a fork)."""
    global _child
    if _child is None or _child.proc.poll() is not None:
        if _child is not None:
            _child.kill()
        _child = _Child()
    return _child


def _discard_child() -> None:
    global _child
    if _child is not None:
        _child.kill()
        _child = None


def child_pid() -> int | None:
    """The pid of the running child, if any (for tests and diagnostics)."""
    return _child.proc.pid if _child is not None and _child.proc.poll() is None else None


def shutdown() -> None:
    """Stop the child process, if any (also done at interpreter exit)."""
    with _lock:
        _discard_child()


atexit.register(shutdown)


def run_isolated(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """Return ``fn(*args)`` computed in the child process.

    ``fn`` and the arguments must be picklable and importable by a fresh interpreter.
    Exceptions raised by ``fn`` propagate unchanged. If the child dies, the call is
    retried once in a fresh child, because the child may have died before this call
    (killed from outside while idle) and a real crasher crashes twice; the second death
    raises :class:`IsolatedCrash`. A call running longer than ``timeout`` seconds raises
    :class:`IsolatedTimeout`.
    """
    payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
    with _lock:
        for attempt in (1, 2):
            child = _get_child()
            try:
                status, value = child.call(payload, timeout)
            except _ChildDied:
                _discard_child()
                if attempt == 2:
                    raise IsolatedCrash("the isolated child process died twice") from None
                logger.warning("isolated child process died; retrying in a fresh process")
                continue
            except TimeoutError:
                _discard_child()
                raise IsolatedTimeout(f"timed out after {timeout:g} s") from None
            if status == "ok":
                return value
            raise value
    raise AssertionError("unreachable")


def _serve() -> None:
    """The child's loop: read a call, run it, write back ("ok", result) or ("err", exc)."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        fn, args = pickle.loads(stdin.read(_HEADER.unpack(header)[0]))
        try:
            result = ("ok", fn(*args))
        except Exception as exc:  # sent back to be raised in the parent
            result = ("err", exc)
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable exception or result
            data = pickle.dumps(("err", RuntimeError(f"{type(exc).__name__}: {exc}")))
        stdout.write(_HEADER.pack(len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    _serve()
