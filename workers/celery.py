"""The demo shop's Celery app, laid out as Celery's "First steps with Django" has it.

stylerecs ships no Celery app: like any host, the demo adds stylerecs' queues, routes,
reliability settings and beat schedule (``stylerecs.celeryconf``) to its own app. Start a
GPU worker with ``celery -A workers worker -Q gpu --pool solo`` (one process per GPU:
CUDA does not survive fork) and a general worker with ``-Q default``; with
``STYLERECS["CPU_ONLY"]`` one ``-Q default`` worker does everything.
"""

import os

from celery import Celery

from stylerecs.celeryconf import celery_config

# The demo's own settings module, as in Celery's Django guide; the package is not in
# the stylerecs wheel, so no host ever falls back to it.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(celery_config())
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)
app.autodiscover_tasks()
