"""The fuzzing suite's seed: random per run, printed, and replayable with FUZZ_SEED=<n>.

Both fuzzers (schemathesis over the OpenAPI schema, the image mutation fuzzer) draw
their examples from hypothesis with this seed and no example database, so a run
depends on nothing a previous run left behind, and a failure is replayed with
``FUZZ_SEED=<seed> pytest tests/fuzz``.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, settings

SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2**32))
# Bounded: the whole fuzz suite must stay within a few minutes on a 2-core machine.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the machine is shared: time is no property of the code
    database=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)


def pytest_report_header(config):
    return f"fuzz seed: {SEED} (replay with FUZZ_SEED={SEED}; examples per case FUZZ_EXAMPLES)"


@pytest.fixture(autouse=True)
def print_fuzz_seed(request):
    # Shown with the captured output of a failing test (the header is printed only
    # when tests/fuzz is named on the command line).
    print(f"fuzz seed: {SEED} (replay with FUZZ_SEED={SEED} pytest {request.node.nodeid})")
