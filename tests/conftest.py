"""Fixtures shared by the integration and e2e tests: real rows, real photos, a real worker.

The worker is a separate process started with ``celery -A workers worker`` against the
same test database and the Redis broker of the test environment (see Makefile), so a
test that enqueues a task sees it run exactly as in production.

Django is imported inside the fixtures, not here: tests/engine runs with
``-p no:django`` and must not need settings to collect.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def jpeg_bytes(array_or_image, quality: int = 90, **save) -> bytes:
    image = (
        array_or_image
        if isinstance(array_or_image, Image.Image)
        else Image.fromarray(array_or_image)
    )
    buffer = io.BytesIO()
    image.convert(save.pop("mode", "RGB")).save(buffer, "JPEG", quality=quality, **save)
    return buffer.getvalue()


def sample_jpeg(name: str = "coffee", side: int = 160) -> bytes:
    from skimage import data

    image = Image.fromarray(getattr(data, name)())
    image.thumbnail((side, side))
    return jpeg_bytes(image)


def admin_style_form(**fields) -> dict:
    """The admin's add/change-style form as a browser posts it, with the defaults for
    every field not given (the tests that add styles through the admin share it)."""
    data = {
        "name": "Noir",
        "slug": "noir",
        "description": "",
        "is_active": "on",
        "method": "classic",
        "strength": "0.8",
        "product_mode": "off",
        "product_strength": "0.3",
        "min_fidelity": "",
        "low_fidelity_action": "review",
    }
    data.update(fields)
    return data


@pytest.fixture
def make_product(db):
    """Create a demo-shop product whose photo is the given bytes (a real photo by default)."""
    from django.core.files.base import ContentFile

    from shop.models import Category, Product, ProductImage

    counter = {"n": 0}

    def make(photo: bytes | None = None, *, title: str | None = None, ext: str = "jpg"):
        counter["n"] += 1
        n = counter["n"]
        category, _ = Category.objects.get_or_create(slug="prints", defaults={"name": "Prints"})
        product = Product.objects.create(
            title=title or f"Print {n}",
            slug=f"print-{n}-{time.monotonic_ns()}",
            price="10.00",
            category=category,
        )
        image = ProductImage(product=product, position=0, alt=product.title)
        image.image.save(f"p{n}.{ext}", ContentFile(photo if photo is not None else sample_jpeg()))
        return product

    return make


@pytest.fixture
def make_style(db):
    from django.core.files.base import ContentFile

    from stylerecs.models import Style
    from stylerecs.services.styles import style_save

    def make(slug: str = "noir", *, source: str = "camera", **fields):
        style = Style(slug=slug, name=slug.title(), **fields)
        style.reference_image.save(f"{slug}.jpg", ContentFile(sample_jpeg(source)), save=False)
        return style_save(style=style)

    return make


def _worker_env(database_name: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{database_name}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/"
            f"{database_name}"
        )
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    """A real ``celery worker`` process for the test database."""

    def __init__(self, env: dict[str, str], log: Path, pool: str = "prefork"):
        self.env, self.log_path, self.pool = env, log, pool
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Worker:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (open for the worker's life)
        self.proc = subprocess.Popen(
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
                self.pool,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def child_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def worker_media_root(tmp_path_factory) -> Path:
    """The worker's MEDIA_ROOT: a fresh folder per test run, never a previous run's."""
    return tmp_path_factory.mktemp("worker-media")


@pytest.fixture(autouse=True)
def empty_cache(request):
    """Every test starts with empty caches and leaves them empty: popular products,
    throttle counts, rescoring debounce keys and the running experiment must not leak
    into the next test (an experiment a test had started, its rows gone, made a live
    server assign shoppers to a deleted arm: a 500, on one fresh clone)."""
    if request.config.pluginmanager.has_plugin("django"):
        from django.core.cache import caches

        for cache in caches.all():
            cache.clear()
    yield
    if request.config.pluginmanager.has_plugin("django"):
        for cache in caches.all():
            cache.clear()


@pytest.fixture(autouse=True)
def media_root(request, tmp_path_factory):
    """Every test stores its files in a MEDIA_ROOT of its own.

    A test that uses the worker shares the worker's folder (the worker is one process for
    the session and reads MEDIA_ROOT once), which is fresh for each run; every other test
    gets an empty folder of its own. Engine tests run without Django and need none.
    """
    if not request.config.pluginmanager.has_plugin("django"):
        yield None
        return
    from django.test import override_settings

    if "celery_worker" in request.fixturenames:
        root = request.getfixturevalue("worker_media_root")
    else:
        root = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(root)):
        yield root


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory, worker_media_root):
    """One worker for the whole session; the queues are purged before it starts."""
    from workers.celery import app

    with django_db_blocker.unblock():
        from django.db import connection

        name = connection.settings_dict["NAME"]
    with app.connection_for_write() as conn:
        for queue in ("gpu", "default"):
            conn.default_channel.queue_purge(queue)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = _worker_env(name)
    env["MEDIA_ROOT"] = str(worker_media_root)
    worker = Worker(env, log).start()
    yield worker
    worker.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def make_variant(db):
    """An approved stylized variant of a product in a style, with a real JPEG file.

    For storefront and API tests that need variants on show without running the
    stylizer: the picture is the product's photo, tinted, so pages have real images.
    """
    import hashlib

    from django.core.files.base import ContentFile
    from PIL import ImageOps

    from stylerecs.models import StylizedVariant, VariantStatus

    tints = [("#1e293b", "#f1f5f9"), ("#3b1d0b", "#f5e2be"), ("#052e16", "#bbf7d0")]

    def make(product, style, *, status=VariantStatus.APPROVED):
        with product.primary_image.image.open("rb") as photo:
            image = Image.open(io.BytesIO(photo.read())).convert("L")
        dark, light = tints[style.pk % len(tints)]
        data = jpeg_bytes(ImageOps.colorize(image, dark, light))
        key = hashlib.sha256(f"{product.pk}:{style.pk}:{time.monotonic_ns()}".encode()).hexdigest()
        variant = StylizedVariant(
            product=product,
            style=style,
            style_version=style.version,
            source_checksum="0" * 64,
            idempotency_key=key,
            status=status,
            width=image.width,
            height=image.height,
            file_size=len(data),
        )
        variant.image.save(f"{key[:16]}.jpg", ContentFile(data), save=False)
        variant.save()
        return variant

    return make
