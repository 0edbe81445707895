"""The demo shop: the Django project that hosts stylerecs."""

# Load the Celery app whenever Django starts, so that @shared_task uses it (Celery's
# documented Django layout).
from workers.celery import app as celery_app

__all__ = ("celery_app",)
