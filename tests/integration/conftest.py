"""The integration tests' fixtures live in tests/conftest.py (the e2e tests share them).

The helpers are re-exported here for the test modules that import them from
``.conftest``.
"""

from tests.conftest import ROOT, Worker, jpeg_bytes, sample_jpeg, wait_for

__all__ = ["ROOT", "Worker", "jpeg_bytes", "sample_jpeg", "wait_for"]
