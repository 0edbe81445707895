"""The embedded default, as `make demo` runs it: SQLite, the filesystem broker (no
server), a real worker process, the demo catalogue, variants through Celery, pages served.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_demo_flow_on_sqlite_and_filesystem_broker(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"}
    }
    env.update(
        STYLERECS_VAR_DIR=str(tmp_path), DEBUG="1", STYLERECS_AUTO_APPROVE="1", PYTHONUNBUFFERED="1"
    )

    def manage(*args, timeout=300):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    manage("migrate", "--no-input", "-v0")
    manage("seed_demo", "--limit", "3", "-v0")
    manage("seed_demo", "--limit", "3", "-v0")  # idempotent
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 (closed in finally)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-Q",
            "gpu,default",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out = manage(
            "stylerecs_generate",
            "--products",
            "all",
            "--styles",
            "noir,vintage",
            "--wait",
            "--timeout",
            "240",
        ).stdout
        assert "finished: 6 ready, 0 failed" in out, out
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()

    db = sqlite3.connect(tmp_path / "db.sqlite3")
    rows = db.execute("select status, image from stylerecs_stylizedvariant").fetchall()
    assert len(rows) == 6
    for status, image in rows:
        assert status == "approved"
        assert (tmp_path / "media" / image).stat().st_size > 1000
    slug = db.execute("select slug from shop_product order by id limit 1").fetchone()[0]
    assert db.execute("select count(*) from shop_product").fetchone()[0] == 3

    # A port of its own: two test runs on one machine must not meet on a fixed one.
    addr = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", addr, "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import urllib.request

        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://{addr}/products/{slug}/") as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "In the Noir style" in body and "In the Vintage style" in body
        image_url = body.split("stylerecs-panel-variant")[1].split('src="')[1].split('"')[0]
        with urllib.request.urlopen(f"http://{addr}{image_url}") as r:
            assert r.headers["Content-Type"] == "image/jpeg"
    finally:
        server.terminate()
        server.wait(timeout=30)
