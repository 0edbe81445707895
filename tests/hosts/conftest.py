"""Fixtures of the host tests: one wheel per session, and each host's own services."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from .harness import build_wheel, drop_database, recreate_database, with_database

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/stylerecs"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def stylerecs_wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built once per session."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture
def host_services(request):
    """A PostgreSQL database of the host's own (created here, dropped after) and the
    test Redis under a key prefix of its own; yields (database URL, broker URL, prefix)."""
    base = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not base.startswith("postgres"):
        pytest.skip("the host tests need PostgreSQL (DATABASE_URL=postgres://…)")
    base_name = base.rsplit("/", 1)[-1] or "stylerecs"
    name = f"{base_name}_host_{request.node.name[:20].lower()}_{os.getpid()}"
    database_url = with_database(base, "".join(c if c.isalnum() else "_" for c in name))
    recreate_database(database_url)
    broker_url = os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    prefix = f"host-{uuid.uuid4().hex[:12]}:"
    try:
        yield database_url, broker_url, prefix
    finally:
        drop_database(database_url)
