"""System checks: clear, coded errors for a misconfigured host."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from .adapters import ProductAdapter
from .conf import DEFAULTS


@register()
def check_product_model(app_configs=None, **kwargs):
    label = getattr(settings, "STYLERECS_PRODUCT_MODEL", None)
    if not label:
        return [
            Error(
                "STYLERECS_PRODUCT_MODEL is not set.",
                hint="Point it at your product model, e.g. 'catalog.Product'.",
                id="stylerecs.E001",
            )
        ]
    try:
        apps.get_model(label)
    except ValueError:
        return [
            Error(
                f"STYLERECS_PRODUCT_MODEL {label!r} is not of the form 'app_label.ModelName'.",
                id="stylerecs.E002",
            )
        ]
    except LookupError:
        return [
            Error(
                f"STYLERECS_PRODUCT_MODEL refers to {label!r}, which is not an installed model.",
                hint="Check the spelling and that its app is in INSTALLED_APPS.",
                id="stylerecs.E002",
            )
        ]
    return []


@register()
def check_settings(app_configs=None, **kwargs):
    errors = []
    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return [Error("STYLERECS must be a dict.", id="stylerecs.E005")]
    for key in sorted(set(user) - set(DEFAULTS)):
        errors.append(
            Warning(
                f"STYLERECS[{key!r}] is not a stylerecs setting and is ignored.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="stylerecs.W001",
            )
        )
    path = user.get("PRODUCT_ADAPTER", DEFAULTS["PRODUCT_ADAPTER"])
    try:
        adapter = import_string(path) if isinstance(path, str) else path
    except ImportError as exc:
        errors.append(
            Error(
                f"STYLERECS['PRODUCT_ADAPTER'] = {path!r} cannot be imported: {exc}",
                id="stylerecs.E003",
            )
        )
    else:
        if not (isinstance(adapter, type) and issubclass(adapter, ProductAdapter)):
            errors.append(
                Error(
                    f"STYLERECS['PRODUCT_ADAPTER'] = {path!r} is not a ProductAdapter subclass.",
                    hint="Subclass stylerecs.adapters.ProductAdapter.",
                    id="stylerecs.E004",
                )
            )
    for key in (
        "VARIANT_MAX_SIDE",
        "BATCH_SIZE",
        "MAX_IMAGE_BYTES",
        "MAX_IMAGE_PIXELS",
        "RECOMMENDATIONS_PER_SHOPPER",
        "MAX_EVENTS_PER_SHOPPER",
        "SCORING_CHUNK_SIZE",
        "CANDIDATE_POOL_FACTOR",
        "PROFILE_BATCH_SIZE",
        "EMBEDDING_MAX_SIDE",
        # Reliability: outages and recovery.
        "STALE_PROCESSING_SECONDS",
        "TRANSIENT_RETRY_SECONDS",
        "TRANSIENT_RETRY_MAX_DELAY",
        "PENDING_REQUEUE_SECONDS",
        "MAX_ATTEMPTS",
    ):
        value = user.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be a positive integer, not {value!r}.",
                    id="stylerecs.E006",
                )
            )
    return errors


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register()
def check_storefront_settings(app_configs=None, **kwargs):
    """The For-you page settings: the style affinity floor and the self-refresh."""
    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return []
    errors = []
    floor = user.get("FOR_YOU_STYLE_MIN_AFFINITY", DEFAULTS["FOR_YOU_STYLE_MIN_AFFINITY"])
    if not _number(floor) or not -1 <= floor <= 1:
        errors.append(
            Error(
                f"STYLERECS['FOR_YOU_STYLE_MIN_AFFINITY'] must be a number between -1 and 1, "
                f"not {floor!r}.",
                id="stylerecs.E030",
            )
        )
    for key, low in (("FOR_YOU_REFRESH_SECONDS", 1), ("FOR_YOU_REFRESH_MAX", 0)):
        value = user.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be an integer of at least {low}, not {value!r}.",
                    id="stylerecs.E031",
                )
            )
    return errors


@register()
def check_scoring_settings(app_configs=None, **kwargs):
    """The recommendation settings: weights, decay, diversity, ranking function, cache."""
    from django.core.cache import caches
    from django.core.cache.backends.base import InvalidCacheBackendError

    from .models import InteractionKind

    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return []
    value = {key: user.get(key, DEFAULTS[key]) for key in DEFAULTS}
    errors = []
    weights = value["EVENT_WEIGHTS"]
    if not isinstance(weights, dict) or not all(_number(w) for w in weights.values()):
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
            not _number(number)
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


@register()
def check_rendition_settings(app_configs=None, **kwargs):
    """Widths, formats and qualities of the responsive renditions; AVIF support."""
    from .engine.renditions import FORMATS, avif_support

    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return []
    widths = user.get("RENDITION_WIDTHS", DEFAULTS["RENDITION_WIDTHS"])
    formats = user.get("RENDITION_FORMATS", DEFAULTS["RENDITION_FORMATS"])
    quality = user.get("RENDITION_QUALITY", DEFAULTS["RENDITION_QUALITY"])
    errors = []
    if (
        not isinstance(widths, list | tuple)
        or not widths
        or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)
    ):
        errors.append(
            Error(
                f"STYLERECS['RENDITION_WIDTHS'] must be a non-empty list of positive "
                f"integers, not {widths!r}.",
                id="stylerecs.E140",
            )
        )
    if (
        not isinstance(formats, list | tuple)
        or not formats
        or not set(formats) <= set(FORMATS)
        or len(set(formats)) != len(formats)
    ):
        errors.append(
            Error(
                f"STYLERECS['RENDITION_FORMATS'] must list some of {', '.join(FORMATS)} "
                f"once each, not {formats!r}.",
                id="stylerecs.E141",
            )
        )
    elif formats[-1] != "jpeg":
        errors.append(
            Warning(
                "STYLERECS['RENDITION_FORMATS'] does not end with 'jpeg': the <img> "
                f"fallback will be {formats[-1]!r}, which some browsers cannot decode.",
                id="stylerecs.W141",
            )
        )
    if not isinstance(quality, dict) or not all(
        isinstance(q, int) and not isinstance(q, bool) and 1 <= q <= 100 for q in quality.values()
    ):
        errors.append(
            Error(
                f"STYLERECS['RENDITION_QUALITY'] must map formats to integers 1..100, "
                f"not {quality!r}.",
                id="stylerecs.E142",
            )
        )
    speed = user.get("RENDITION_AVIF_SPEED", DEFAULTS["RENDITION_AVIF_SPEED"])
    if not isinstance(speed, int) or isinstance(speed, bool) or not 0 <= speed <= 10:
        errors.append(
            Error(
                f"STYLERECS['RENDITION_AVIF_SPEED'] must be an integer 0..10, not {speed!r}.",
                id="stylerecs.E143",
            )
        )
    age = user.get("CONTENT_ADDRESSED_MAX_AGE", DEFAULTS["CONTENT_ADDRESSED_MAX_AGE"])
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        errors.append(
            Error(
                f"STYLERECS['CONTENT_ADDRESSED_MAX_AGE'] must be a number of seconds, not {age!r}.",
                id="stylerecs.E144",
            )
        )
    if isinstance(formats, list | tuple) and "avif" in formats and avif_support() is None:
        fallback = [f for f in formats if f != "avif"] or ["the stored file"]
        errors.append(
            Warning(
                "AVIF renditions are configured, but this Pillow cannot encode AVIF: "
                f"renditions are made as {', '.join(fallback)} only.",
                hint="Upgrade to Pillow >= 11.3 (its wheels encode AVIF) or install "
                "pillow-avif-plugin (pip install 'stylerecs[avif]'), or drop 'avif' from "
                "STYLERECS['RENDITION_FORMATS'].",
                id="stylerecs.W140",
            )
        )
    return errors


@register()
def check_hardening_settings(app_configs=None, **kwargs):
    """The untrusted-input limits (stylerecs.middleware, stylerecs.api.parsers)."""
    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return []
    depth = user.get("MAX_JSON_DEPTH", DEFAULTS["MAX_JSON_DEPTH"])
    if not isinstance(depth, int) or isinstance(depth, bool) or not 2 <= depth <= 500:
        return [
            Error(
                f"STYLERECS['MAX_JSON_DEPTH'] must be an integer from 2 to 500, not {depth!r}.",
                hint="Python's JSON decoder recurses once per level; keep it well below the "
                "recursion limit.",
                id="stylerecs.E150",
            )
        ]
    return []


@register()
def check_quality_settings(app_configs=None, **kwargs):
    """The product-mask and quality-score settings, and the default stylizer."""
    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return []
    errors = []
    if not isinstance(user.get("SCORE_VARIANTS", DEFAULTS["SCORE_VARIANTS"]), bool):
        errors.append(
            Error("STYLERECS['SCORE_VARIANTS'] must be True or False.", id="stylerecs.E111")
        )
    upload_to = user.get("MASK_UPLOAD_TO", DEFAULTS["MASK_UPLOAD_TO"])
    if not isinstance(upload_to, str) or not upload_to.strip("/"):
        errors.append(
            Error("STYLERECS['MASK_UPLOAD_TO'] must be a storage folder name.", id="stylerecs.E112")
        )
    method = user.get("DEFAULT_METHOD", DEFAULTS["DEFAULT_METHOD"])
    from .weights import METHOD_WEIGHTS

    known = {"auto", *METHOD_WEIGHTS, *user.get("STYLIZERS", {})}
    if method not in known:
        errors.append(
            Error(
                f"STYLERECS['DEFAULT_METHOD'] = {method!r} is not a stylizer.",
                hint=f"One of: {', '.join(sorted(known))}.",
                id="stylerecs.E113",
            )
        )
    return errors


@register()
def check_experiment_settings(app_configs=None, **kwargs):
    """The experiment settings: switches are booleans, levels and windows in range."""
    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return []
    value = {key: user.get(key, DEFAULTS[key]) for key in DEFAULTS}
    errors = []
    for key in ("IMPRESSIONS_ENABLED", "IMPRESSIONS_ASYNC_COMMIT", "GUARDRAIL_ENABLED"):
        if not isinstance(value[key], bool):
            errors.append(Error(f"STYLERECS[{key!r}] must be True or False.", id="stylerecs.E160"))
    for key in ("SRM_P_THRESHOLD", "GUARDRAIL_ALPHA"):
        if not _number(value[key]) or not 0 < value[key] < 1:
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
        if not _number(value[key]) or value[key] < 0:
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
    ):
        number = value[key]
        if not isinstance(number, int) or isinstance(number, bool) or number < least:
            kind = "a non-negative integer" if least == 0 else f"an integer >= {least}"
            errors.append(
                Error(f"STYLERECS[{key!r}] must be {kind}, not {number!r}.", id="stylerecs.E012")
            )
    fraction = value["TASTE_VALIDATION_FRACTION"]
    if not _number(fraction) or not 0 < fraction < 0.5:
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
