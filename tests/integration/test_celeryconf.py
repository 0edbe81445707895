"""What stylerecs exports for a host's Celery app (stylerecs/celeryconf.py), the CPU-only
switch, and the checks that warn about a host's Celery wiring (stylerecs/host_checks.py).
"""

from __future__ import annotations

import pytest
from celery import Celery, current_app
from django.core import checks
from django.test import override_settings

from stylerecs.celeryconf import BEAT_SCHEDULE, RELIABILITY, celery_config
from workers.celery import app as demo_app

ADAPTER = "shop.adapters.ShopProductAdapter"


def queue_of(app, task: str) -> str:
    return app.amqp.router.route({}, task)["queue"].name


def host_app(**conf) -> Celery:
    """A host's app configured from stylerecs' export (not the demo's)."""
    app = Celery("acme", set_as_current=False)
    app.conf.update(celery_config(), broker_url="redis://127.0.0.1:6379/1", **conf)
    return app


@pytest.mark.parametrize("app", [demo_app, host_app()], ids=["demo", "host"])
def test_engine_tasks_go_to_gpu_and_the_rest_to_default(app):
    assert queue_of(app, "stylerecs.tasks.stylize_variants") == "gpu"
    assert queue_of(app, "stylerecs.tasks.refresh_profiles") == "gpu"
    assert queue_of(app, "stylerecs.tasks.refresh_recommendations") == "default"
    assert queue_of(app, "stylerecs.tasks.refresh_all_recommendations") == "default"
    assert queue_of(app, "acme.tasks.send_newsletter") == "default"  # the host's own


@pytest.mark.parametrize("app", [demo_app, host_app()], ids=["demo", "host"])
def test_cpu_only_puts_stylizing_and_embedding_on_default(app):
    with override_settings(STYLERECS={"PRODUCT_ADAPTER": ADAPTER, "CPU_ONLY": True}):
        assert queue_of(app, "stylerecs.tasks.stylize_variants") == "default"
        assert queue_of(app, "stylerecs.tasks.refresh_profiles") == "default"
    assert queue_of(app, "stylerecs.tasks.stylize_variants") == "gpu"  # read when sent


def test_export_carries_reliability_settings_and_beat_schedule():
    app = host_app()

    for key, value in RELIABILITY.items():
        assert app.conf[key] == value, key
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert set(app.conf.beat_schedule) == set(BEAT_SCHEDULE)
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} == {
        "stylerecs.tasks.refresh_all_recommendations",
        "stylerecs.tasks.refresh_profiles",
        "stylerecs.tasks.requeue_stale_variants",
        "stylerecs.tasks.experiments_guard",
        "stylerecs.tasks.flush_impressions",
        "stylerecs.tasks.train_taste_model",
    }
    assert "beat_schedule" not in celery_config(beat=False)
    assert {queue.name for queue in app.conf.task_queues} == {"default", "gpu"}


@pytest.fixture
def current_celery_app():
    """Make an app current (as a host's celery.py does) for one test, then restore."""
    previous = current_app._get_current_object()

    def use(app: Celery) -> Celery:
        app.set_current()
        return app

    yield use
    previous.set_current()


def stylerecs_ids() -> set[str]:
    return {m.id for m in checks.run_checks() if m.id and m.id.startswith("stylerecs")}


def test_demo_app_passes_the_celery_checks():
    assert stylerecs_ids() == set()


def test_app_without_broker_url_warns(current_celery_app, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    app = Celery("acme", set_as_current=False)
    app.conf.update(celery_config())
    current_celery_app(app)

    assert stylerecs_ids() == {"stylerecs.W081"}


def test_app_without_stylerecs_config_warns(current_celery_app):
    current_celery_app(Celery("acme", set_as_current=False, broker="redis://127.0.0.1:6379/1"))

    # A bare app: no stylerecs queues, and nothing keeps Redis from redelivering.
    assert stylerecs_ids() == {"stylerecs.W082", "stylerecs.W084"}


def test_redis_visibility_timeout_shorter_than_the_time_limit_warns(current_celery_app):
    app = host_app(task_time_limit=7200, broker_transport_options={"visibility_timeout": 3600})
    current_celery_app(app)

    assert stylerecs_ids() == {"stylerecs.W084"}


def test_redis_without_time_limit_warns(current_celery_app):
    current_celery_app(host_app(task_time_limit=None))

    assert stylerecs_ids() == {"stylerecs.W084"}


def test_cpu_only_must_be_a_boolean():
    with override_settings(STYLERECS={"PRODUCT_ADAPTER": ADAPTER, "CPU_ONLY": "yes"}):
        assert "stylerecs.E080" in stylerecs_ids()


def test_api_mounted_without_its_apps_warns(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "drf_spectacular_sidecar"]

    messages = [m for m in checks.run_checks() if m.id == "stylerecs.W083"]

    assert len(messages) == 1 and "drf_spectacular_sidecar" in messages[0].msg


def consumed_queues(command: str) -> set[str]:
    words = command.split()
    return set(words[words.index("-Q") + 1].split(",")) if "-Q" in words else {"celery"}


@pytest.mark.parametrize("cpu_only", [False, True], ids=["gpu-shop", "cpu-only-shop"])
def test_readme_worker_commands_consume_every_queue_stylerecs_sends_to(cpu_only):
    from tests.hosts.harness import readme_commands

    workers = [c for c in readme_commands() if " worker " in c]
    gpu_section = [c for c in workers if "-Q gpu" in c or c.startswith("CUDA_VISIBLE_DEVICES")]
    # README lists the CPU-only command first, then the GPU machines' pair.
    commands = workers[:1] if cpu_only else gpu_section + workers[2:]
    consumed = set().union(*(consumed_queues(c) for c in commands))
    app = host_app()

    with override_settings(STYLERECS={"PRODUCT_ADAPTER": ADAPTER, "CPU_ONLY": cpu_only}):
        sent = {
            queue_of(app, f"stylerecs.tasks.{name}")
            for name in (
                "stylize_variants",
                "refresh_profiles",
                "refresh_recommendations",
                "refresh_all_recommendations",
                "requeue_stale_variants",
            )
        }

    assert sent <= consumed, (sent, commands)
    assert all("--pool solo" in c for c in commands if "-Q gpu" in c)  # CUDA and fork
