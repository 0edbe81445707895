"""stylerecs.engine.isolation: calls in a crash-isolated child process."""

from __future__ import annotations

import math
import os
import signal
import sys
import time

import pytest

from stylerecs.engine import isolation
from stylerecs.engine.isolation import IsolatedCrash, IsolatedTimeout, run_isolated

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_result_and_exceptions_come_back_unchanged():
    assert run_isolated(math.factorial, 10, timeout=30) == 3628800
    with pytest.raises(ValueError, match="invalid literal"):
        run_isolated(int, "not a number", timeout=30)


@posix_only
def test_child_that_dies_raises_crash_and_the_next_call_works():
    with pytest.raises(IsolatedCrash):
        run_isolated(signal.raise_signal, signal.SIGKILL, timeout=30)
    assert run_isolated(math.factorial, 5, timeout=30) == 120


@posix_only
def test_child_killed_while_idle_is_replaced_without_failing_the_next_call():
    run_isolated(math.factorial, 3, timeout=30)
    pid = isolation.child_pid()
    assert pid and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert run_isolated(math.factorial, 4, timeout=30) == 24


def test_hung_call_times_out_and_its_child_is_replaced():
    started = time.monotonic()
    with pytest.raises(IsolatedTimeout, match="timed out after 0.5 s"):
        run_isolated(time.sleep, 30, timeout=0.5)
    assert time.monotonic() - started < 10
    assert run_isolated(math.factorial, 4, timeout=30) == 24
