"""Receivers of Celery's worker signals, connected when ``stylerecs.tasks`` is imported
(a worker imports it through ``autodiscover_tasks()`` before it sends ``worker_init``),
so they work in any host's Celery app."""

from __future__ import annotations

from celery import signals


@signals.worker_init.connect(dispatch_uid="stylerecs_keep_freed_memory")
def keep_freed_memory(**kwargs) -> bool:
    """Before the pool starts (prefork children inherit it): let malloc keep freed
    memory, unless ``STYLERECS["KEEP_FREED_MEMORY"]`` is off. Takes microseconds; no
    model is loaded here."""
    from .conf import stylerecs_settings

    if not stylerecs_settings.KEEP_FREED_MEMORY:
        return False
    from .engine.allocator import keep_freed_memory as keep

    return keep()
