"""The integration tests' fixtures live in tests/conftest.py (the e2e tests share them).

The helpers are re-exported here for the test modules that import them from
``.conftest``.
"""

import pytest

from tests.conftest import ROOT, Worker, jpeg_bytes, sample_jpeg, wait_for

__all__ = ["ROOT", "Worker", "jpeg_bytes", "sample_jpeg", "wait_for"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: popular products, throttle counters and
    the rescoring debounce keys of one test must not leak into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
