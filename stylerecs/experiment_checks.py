"""System checks of the experiment and impression settings (ids E160-E164)."""

from __future__ import annotations

from django.core.checks import Error, register

from .checks import host_settings, is_number


@register()
def check_experiment_settings(app_configs=None, **kwargs):
    """The experiment settings: switches are booleans, levels and windows in range."""
    value = host_settings()
    if value is None:
        return []
    errors = []
    for key in ("IMPRESSIONS_ENABLED", "IMPRESSIONS_ASYNC_COMMIT", "GUARDRAIL_ENABLED"):
        if not isinstance(value[key], bool):
            errors.append(Error(f"STYLERECS[{key!r}] must be True or False.", id="stylerecs.E160"))
    for key in ("SRM_P_THRESHOLD", "GUARDRAIL_ALPHA"):
        if not is_number(value[key]) or not 0 < value[key] < 1:
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be a number between 0 and 1 (exclusive), "
                    f"not {value[key]!r}.",
                    id="stylerecs.E161",
                )
            )
    for key in (
        "ATTRIBUTION_WINDOW_SECONDS",
        "EXPERIMENTS_CACHE_SECONDS",
        "GUARDRAIL_MIN_SHOPPERS",
    ):
        if not is_number(value[key]) or value[key] < 0:
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be a number, at least 0, not {value[key]!r}.",
                    id="stylerecs.E162",
                )
            )
    errors += _buffer_errors(value)
    return errors


BUFFER_SCHEMES = ("redis://", "rediss://", "unix://")


def _buffer_errors(value: dict) -> list[Error]:
    """The impression buffer's settings (ids E163, E164)."""
    errors = []
    url = value["IMPRESSIONS_BUFFER_URL"]
    if url is not None and (not isinstance(url, str) or not url.startswith(BUFFER_SCHEMES)):
        errors.append(
            Error(
                f"STYLERECS['IMPRESSIONS_BUFFER_URL'] must be None or a Redis URL, not {url!r}.",
                hint="For example redis://127.0.0.1:6379/2 (see docs/EXPERIMENTS.md).",
                id="stylerecs.E163",
            )
        )
    key, chunk = value["IMPRESSIONS_BUFFER_KEY"], value["IMPRESSIONS_FLUSH_CHUNK"]
    if not isinstance(key, str) or not key:
        errors.append(
            Error(
                "STYLERECS['IMPRESSIONS_BUFFER_KEY'] must be a non-empty string.",
                id="stylerecs.E164",
            )
        )
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        errors.append(
            Error(
                f"STYLERECS['IMPRESSIONS_FLUSH_CHUNK'] must be a whole number, at least 1, "
                f"not {chunk!r}.",
                id="stylerecs.E164",
            )
        )
    return errors
