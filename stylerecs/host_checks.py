"""System checks for how a host wired stylerecs in: its Celery app and the API's apps.

They read configuration only: nothing here opens a connection to a broker (a check that
did would hang ``manage.py check`` on a machine without one).
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from .celeryconf import DEFAULT_QUEUE

ROUTER = "stylerecs.celeryconf.route_task"
HOST_CELERY_HINT = (
    "Create the host's Celery app as in Celery's 'First steps with Django' (proj/celery.py "
    "with app.conf.update(stylerecs.celeryconf.celery_config()), imported in "
    "proj/__init__.py); see README, 'Installing stylerecs in your shop'."
)


def _routes_stylerecs(routes) -> bool:
    from .celeryconf import route_task

    if routes is None:
        return False
    if isinstance(routes, dict | str) or callable(routes):
        routes = [routes]
    return any(route == ROUTER or route is route_task for route in routes)


@register()
def check_celery_app(app_configs=None, **kwargs):
    """Warn when stylerecs' tasks would not reach the host's workers."""
    from celery import current_app

    app = current_app._get_current_object()
    if app.main == "default" and getattr(app, "_config_source", None) is None:
        # No app was created when Django started: shared_task falls back to Celery's
        # fallback app ("default", no configuration), which sends to
        # amqp://guest@localhost// whatever the settings say.
        return [
            Warning(
                "stylerecs' Celery tasks would be sent by Celery's default app "
                "(amqp://localhost), not by the host's: no Celery app is loaded.",
                hint=HOST_CELERY_HINT,
                id="stylerecs.W080",
            )
        ]
    messages = []
    if not app.conf.broker_url and not app.conf.task_always_eager:
        messages.append(
            Warning(
                f"The Celery app {app.main!r} has no broker URL: stylerecs' tasks would go "
                "to Celery's default, amqp://guest@localhost//.",
                hint="Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0).",
                id="stylerecs.W081",
            )
        )
    if app.conf.task_default_queue != DEFAULT_QUEUE or not _routes_stylerecs(app.conf.task_routes):
        messages.append(
            Warning(
                f"The Celery app {app.main!r} lacks stylerecs' queues and routes: its tasks "
                f"would go to {app.conf.task_default_queue!r}, which stylerecs' worker "
                "commands do not consume.",
                hint=HOST_CELERY_HINT,
                id="stylerecs.W082",
            )
        )
    messages.extend(_visibility_timeout_problems(app))
    return messages


def _visibility_timeout_problems(app) -> list[Warning]:
    """On Redis/SQS an unacknowledged task is redelivered after the visibility timeout
    (an hour by default): shorter than the slowest task, a long batch runs twice."""
    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis", "rediss", "sqs")):
        return []
    options = app.conf.broker_transport_options or {}
    timeout = options.get("visibility_timeout", 3600)
    limit = app.conf.task_time_limit
    if limit is not None and timeout > limit:
        return []
    return [
        Warning(
            f"The broker's visibility_timeout ({timeout} s) is not longer than the task time "
            f"limit ({limit or 'none'}): a task still running is redelivered to another "
            "worker and runs twice.",
            hint="Set CELERY_TASK_TIME_LIMIT and CELERY_BROKER_TRANSPORT_OPTIONS = "
            "stylerecs.celeryconf.REDIS_TRANSPORT_OPTIONS (or a longer visibility_timeout).",
            id="stylerecs.W084",
        )
    ]


@register()
def check_cpu_only(app_configs=None, **kwargs):
    user = getattr(settings, "STYLERECS", {})
    value = user.get("CPU_ONLY", False) if isinstance(user, dict) else False
    if not isinstance(value, bool):
        return [
            Error(
                f"STYLERECS['CPU_ONLY'] must be True or False, not {value!r}.", id="stylerecs.E080"
            )
        ]
    return []


# The apps the API's pages need: token login, the schema views' templates, and Swagger
# UI's static files (without them /api/docs/ renders a blank page).
API_APPS = (
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
)


@register(Tags.urls)
def check_api_apps(app_configs=None, **kwargs):
    """Where the host mounts stylerecs' API, the apps its pages need are installed."""
    try:
        reverse("stylerecs_api:docs")
    except NoReverseMatch:
        return []  # the host does not serve the API
    missing = [app for app in API_APPS if app not in settings.INSTALLED_APPS]
    if not missing:
        return []
    return [
        Warning(
            f"stylerecs' API is mounted but INSTALLED_APPS lacks {', '.join(missing)}: "
            "/api/auth/token/ or /api/docs/ will not work.",
            hint=f"Add {', '.join(repr(app) for app in missing)} to INSTALLED_APPS.",
            id="stylerecs.W083",
        )
    ]
