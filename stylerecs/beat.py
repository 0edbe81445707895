"""The celery beat schedule stylerecs needs, as data a host adds to its own config.

A host merges it into its schedule (``CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE, ...}``)
and runs one ``celery -A proj beat``. Without the requeue entry nothing recovers a
variant whose message was lost (a broker restarted without persistence, a broker that
was down during a request) or whose worker died: see docs/OPERATIONS.md, "Reliability".
"""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Nightly: tune a new taste model on the latest events; it replaces the model in
    # service only if it beats it on the held-out most recent events.
    "stylerecs-train-taste-model": {
        "task": "stylerecs.tasks.train_taste_model",
        "schedule": crontab(minute=30, hour=2),
    },
    # Shoppers are also rescored a few seconds after their own events; this catches
    # everyone else up (decay, new products).
    "stylerecs-rescore-everyone": {
        "task": "stylerecs.tasks.refresh_all_recommendations",
        "schedule": crontab(minute=15, hour="*/3"),
    },
    "stylerecs-refresh-profiles": {
        "task": "stylerecs.tasks.refresh_profiles",
        "schedule": crontab(minute=0),  # hourly: only changed photos are embedded
    },
    # Stops experiment arms that make conversion significantly worse (a sequential test,
    # valid however often it runs; see GUARDRAIL_ALPHA).
    "stylerecs-experiments-guard": {
        "task": "stylerecs.tasks.experiments_guard",
        "schedule": crontab(minute=30),
    },
    # Writes the impressions buffered in Redis when IMPRESSIONS_BUFFER_URL is set (a no-op
    # otherwise): an event is linked to a buffered impression at most this long later.
    "stylerecs-flush-impressions": {
        "task": "stylerecs.tasks.flush_impressions",
        "schedule": 10.0,  # seconds
    },
    # Recovery is at most this period after PENDING_REQUEUE_SECONDS (a lost message) or
    # STALE_PROCESSING_SECONDS (a dead worker's claims). When nothing is due, one
    # indexed query.
    "stylerecs-requeue-stale-variants": {
        "task": "stylerecs.tasks.requeue_stale_variants",
        "schedule": crontab(minute="*/5"),
    },
}
