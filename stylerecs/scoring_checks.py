"""System checks of the recommendation settings: the visual ranking and the taste model
(ids E006-E013; see stylerecs/checks.py for the rest)."""

from __future__ import annotations

from django.core.checks import Error, register
from django.utils.module_loading import import_string

from .checks import host_settings, is_number


@register()
def check_scoring_settings(app_configs=None, **kwargs):
    """The recommendation settings: weights, decay, diversity, ranking function, cache."""
    from django.core.cache import caches
    from django.core.cache.backends.base import InvalidCacheBackendError

    from .models import InteractionKind

    value = host_settings()
    if value is None:
        return []
    errors = []
    weights = value["EVENT_WEIGHTS"]
    if not isinstance(weights, dict) or not all(is_number(w) for w in weights.values()):
        errors.append(
            Error(
                "STYLERECS['EVENT_WEIGHTS'] must map interaction kinds to numbers.",
                id="stylerecs.E007",
            )
        )
    elif set(weights) - set(InteractionKind.values):
        errors.append(
            Error(
                f"STYLERECS['EVENT_WEIGHTS'] names unknown kinds: "
                f"{sorted(set(weights) - set(InteractionKind.values))}.",
                hint=f"Kinds: {', '.join(InteractionKind.values)}.",
                id="stylerecs.E007",
            )
        )
    ranges = {
        "HALF_LIFE_DAYS": (0, None),
        "DIVERSITY": (0, 1),
        "POPULARITY_PRIOR": (0, None),
        "EXPLICIT_WEIGHT": (0, None),
        "POPULARITY_DAYS": (0, None),
        "RESCORE_DELAY_SECONDS": (0, None),
    }
    for key, (low, high) in ranges.items():
        number = value[key]
        strict = key in ("HALF_LIFE_DAYS", "POPULARITY_DAYS")
        if (
            not is_number(number)
            or number < low
            or (strict and number == low)
            or (high is not None and number > high)
        ):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be a number {bound}"
                    f"{' (not 0)' if strict else ''}, not {number!r}.",
                    id="stylerecs.E008",
                )
            )
    threads = value["SCORING_THREADS"]
    if threads is not None and (
        not isinstance(threads, int) or isinstance(threads, bool) or threads <= 0
    ):
        errors.append(
            Error(
                f"STYLERECS['SCORING_THREADS'] must be a positive integer or None, "
                f"not {threads!r}.",
                id="stylerecs.E006",
            )
        )
    path = value["RANKING_FUNCTION"]
    try:
        function = import_string(path) if isinstance(path, str) else path
    except ImportError as exc:
        function = None
        errors.append(
            Error(
                f"STYLERECS['RANKING_FUNCTION'] = {path!r} cannot be imported: {exc}",
                id="stylerecs.E009",
            )
        )
    if function is not None and not callable(function):
        errors.append(
            Error(f"STYLERECS['RANKING_FUNCTION'] = {path!r} is not callable.", id="stylerecs.E009")
        )
    errors += _taste_errors(value)
    try:
        caches[value["DEBOUNCE_CACHE"]]
    except InvalidCacheBackendError:
        errors.append(
            Error(
                f"STYLERECS['DEBOUNCE_CACHE'] = {value['DEBOUNCE_CACHE']!r} is not in CACHES.",
                id="stylerecs.E010",
            )
        )
    return errors


SHOW_AGAIN_CHOICES = ("after_first_page", "always", "never")


def _taste_errors(value: dict) -> list[Error]:
    """The hybrid model's and the show-again policies' settings (ids E011-E013)."""
    from .engine.taste_params import tuning_errors

    errors = []
    if value["SHOW_AGAIN_INTERACTED"] not in SHOW_AGAIN_CHOICES:
        errors.append(
            Error(
                f"STYLERECS['SHOW_AGAIN_INTERACTED'] must be one of {SHOW_AGAIN_CHOICES}, "
                f"not {value['SHOW_AGAIN_INTERACTED']!r}.",
                id="stylerecs.E011",
            )
        )
    for key in ("SHOW_AGAIN_PURCHASED", "SHOW_UNAVAILABLE"):
        if not isinstance(value[key], bool):
            errors.append(Error(f"STYLERECS[{key!r}] must be True or False.", id="stylerecs.E011"))
    for key, least in (
        ("FIRST_PAGE_SIZE", 0),
        ("TASTE_MIN_EVENTS", 0),
        ("TASTE_THREADS", 0),
        ("TASTE_VALIDATION_FOLDS", 1),
        ("TASTE_VALIDATION_SHOPPERS", 1),
    ):
        number = value[key]
        if not isinstance(number, int) or isinstance(number, bool) or number < least:
            kind = "a non-negative integer" if least == 0 else f"an integer >= {least}"
            errors.append(
                Error(f"STYLERECS[{key!r}] must be {kind}, not {number!r}.", id="stylerecs.E012")
            )
    fraction = value["TASTE_VALIDATION_FRACTION"]
    if not is_number(fraction) or not 0 < fraction < 0.5:
        errors.append(
            Error(
                f"STYLERECS['TASTE_VALIDATION_FRACTION'] must be a number between 0 and 0.5, "
                f"not {fraction!r}.",
                id="stylerecs.E012",
            )
        )
    for problem in tuning_errors(value["TASTE_TUNING"]):
        errors.append(Error(f"STYLERECS['TASTE_TUNING']: {problem}", id="stylerecs.E013"))
    return errors
