"""The Celery app: configuration from Django settings, queues and routing as data.

Start a GPU worker with ``celery -A workers worker -Q gpu --pool solo`` (one process per
GPU: CUDA does not survive fork) and a general worker with ``-Q default``.
"""

import os

from celery import Celery, signals
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("stylerecs")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_queues=(
        Queue("default", Exchange("default"), routing_key="default"),
        Queue("gpu", Exchange("gpu"), routing_key="gpu"),
    ),
    task_default_queue="default",
    task_default_exchange="default",
    task_default_routing_key="default",
    task_routes={
        "stylerecs.tasks.stylize_variants": {"queue": "gpu", "routing_key": "gpu"},
        # Embedding runs the neural encoder when its weights are installed. Scoring is
        # matrix products on the CPU and stays on the default queue.
        "stylerecs.tasks.refresh_profiles": {"queue": "gpu", "routing_key": "gpu"},
    },
    # A task is acknowledged only after it ran, and a worker that dies mid-task gives
    # the message back (acks_late alone would still ack it): every task is idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()


@signals.worker_init.connect
def keep_freed_memory(**kwargs) -> bool:
    """Before the pool starts (prefork children inherit it): let malloc keep freed
    memory, unless ``STYLERECS["KEEP_FREED_MEMORY"]`` is off. Takes microseconds; no
    model is loaded here."""
    from stylerecs.conf import stylerecs_settings

    if not stylerecs_settings.KEEP_FREED_MEMORY:
        return False
    from stylerecs.engine.allocator import keep_freed_memory as keep

    return keep()
