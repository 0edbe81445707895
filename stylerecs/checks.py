"""System checks: clear, coded errors for a misconfigured host.

The recommendation settings are checked in scoring_checks.py, the experiment settings in
experiment_checks.py, how the host wired Celery and the API in host_checks.py.
"""

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


def host_settings() -> dict | None:
    """The host's ``STYLERECS`` over the defaults; ``None`` when it is not a dict (which
    :func:`check_settings` reports, stylerecs.E005)."""
    user = getattr(settings, "STYLERECS", {})
    if not isinstance(user, dict):
        return None
    return {key: user.get(key, DEFAULTS[key]) for key in DEFAULTS}


def is_number(value) -> bool:
    """A real number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@register()
def check_storefront_settings(app_configs=None, **kwargs):
    """The For-you page settings: the style affinity floor and the self-refresh."""
    value = host_settings()
    if value is None:
        return []
    errors = []
    floor = value["FOR_YOU_STYLE_MIN_AFFINITY"]
    if not is_number(floor) or not -1 <= floor <= 1:
        errors.append(
            Error(
                f"STYLERECS['FOR_YOU_STYLE_MIN_AFFINITY'] must be a number between -1 and 1, "
                f"not {floor!r}.",
                id="stylerecs.E030",
            )
        )
    for key, low in (("FOR_YOU_REFRESH_SECONDS", 1), ("FOR_YOU_REFRESH_MAX", 0)):
        number = value[key]
        if not isinstance(number, int) or isinstance(number, bool) or number < low:
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be an integer of at least {low}, not {number!r}.",
                    id="stylerecs.E031",
                )
            )
    return errors


@register()
def check_rendition_settings(app_configs=None, **kwargs):
    """Widths, formats and qualities of the responsive renditions; AVIF support."""
    from .engine.renditions import FORMATS, avif_support

    value = host_settings()
    if value is None:
        return []
    widths = value["RENDITION_WIDTHS"]
    formats = value["RENDITION_FORMATS"]
    quality = value["RENDITION_QUALITY"]
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
    speed = value["RENDITION_AVIF_SPEED"]
    if not isinstance(speed, int) or isinstance(speed, bool) or not 0 <= speed <= 10:
        errors.append(
            Error(
                f"STYLERECS['RENDITION_AVIF_SPEED'] must be an integer 0..10, not {speed!r}.",
                id="stylerecs.E143",
            )
        )
    age = value["CONTENT_ADDRESSED_MAX_AGE"]
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
    value = host_settings()
    if value is None:
        return []
    depth = value["MAX_JSON_DEPTH"]
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
    value = host_settings()
    if value is None:
        return []
    errors = []
    if not isinstance(value["SCORE_VARIANTS"], bool):
        errors.append(
            Error("STYLERECS['SCORE_VARIANTS'] must be True or False.", id="stylerecs.E111")
        )
    upload_to = value["MASK_UPLOAD_TO"]
    if not isinstance(upload_to, str) or not upload_to.strip("/"):
        errors.append(
            Error("STYLERECS['MASK_UPLOAD_TO'] must be a storage folder name.", id="stylerecs.E112")
        )
    method = value["DEFAULT_METHOD"]
    from .weights import METHOD_WEIGHTS

    known = {"auto", *METHOD_WEIGHTS, *value["STYLIZERS"]}
    if method not in known:
        errors.append(
            Error(
                f"STYLERECS['DEFAULT_METHOD'] = {method!r} is not a stylizer.",
                hint=f"One of: {', '.join(sorted(known))}.",
                id="stylerecs.E113",
            )
        )
    return errors
