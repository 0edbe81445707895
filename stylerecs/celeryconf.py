"""What a host adds to its own Celery app: stylerecs' queues, routes, reliability, beat.

stylerecs ships no Celery app: the app belongs to the host project, as in Celery's
"First steps with Django". The host's ``celery.py`` adds this module's settings::

    app = Celery("myshop")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(stylerecs.celeryconf.celery_config())
    app.autodiscover_tasks()

Nothing here reads Django settings when imported or called: the queue of each task is
chosen by :func:`route_task` when the task is sent, from ``STYLERECS["CPU_ONLY"]``.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from .beat import BEAT_SCHEDULE

DEFAULT_QUEUE = "default"
GPU_QUEUE = "gpu"

# The tasks that run the neural engine: on GPU machines they go to the `gpu` queue,
# consumed by one solo-pool worker per GPU. Scoring is matrix products on the CPU and
# stays on the default (prefork) queue, where CUDA would not survive the fork anyway.
GPU_TASKS = frozenset({"stylerecs.tasks.stylize_variants", "stylerecs.tasks.refresh_profiles"})

# The reliability rules every stylerecs task is written for (docs/ARCHITECTURE.md): a
# task is acknowledged only after it ran, a worker that dies mid-task gives the message
# back (acks_late alone would still ack it), a worker holds one message at a time, and
# on a lost broker connection long tasks are cancelled and redelivered, not finished
# unacknowledged. So every stylerecs task is idempotent.
RELIABILITY: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    "broker_connection_retry_on_startup": True,
}

# On Redis (and SQS) a message not acknowledged within the visibility timeout is given
# to another worker: it must be longer than the slowest task (task_time_limit), or a
# long batch runs twice. Hosts on Redis put this in CELERY_BROKER_TRANSPORT_OPTIONS.
REDIS_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 7200}


def task_queues() -> tuple[Queue, ...]:
    """The two queues stylerecs sends to: ``default`` and ``gpu``."""
    return (
        Queue(DEFAULT_QUEUE, Exchange(DEFAULT_QUEUE), routing_key=DEFAULT_QUEUE),
        Queue(GPU_QUEUE, Exchange(GPU_QUEUE), routing_key=GPU_QUEUE),
    )


def route_task(name: str, args, kwargs, options, task=None, **kw) -> dict[str, str] | None:
    """Celery router: the engine's tasks to ``gpu``, or to ``default`` when CPU-only.

    Read when a task is sent, so ``STYLERECS["CPU_ONLY"]`` (and ``override_settings``)
    takes effect without restarting anything. Tasks of other apps are left alone.
    """
    if name not in GPU_TASKS:
        return None
    from .conf import stylerecs_settings

    queue = DEFAULT_QUEUE if stylerecs_settings.CPU_ONLY else GPU_QUEUE
    return {"queue": queue, "routing_key": queue}


def celery_config(*, beat: bool = True) -> dict[str, Any]:
    """Celery settings (lowercase names) for ``app.conf.update(...)`` in a host's app.

    Queues, the default queue, the router, the reliability settings, JSON only, and
    (unless ``beat=False``, for a host that keeps its own complete schedule) the beat
    schedule stylerecs needs. A host that also schedules its own tasks merges
    ``BEAT_SCHEDULE`` into its schedule instead.
    """
    config: dict[str, Any] = {
        "task_queues": task_queues(),
        "task_default_queue": DEFAULT_QUEUE,
        "task_default_exchange": DEFAULT_QUEUE,
        "task_default_routing_key": DEFAULT_QUEUE,
        "task_routes": ("stylerecs.celeryconf.route_task",),
        **RELIABILITY,
        "task_serializer": "json",
        "accept_content": ["json"],
    }
    if beat:
        config["beat_schedule"] = dict(BEAT_SCHEDULE)
    return config
