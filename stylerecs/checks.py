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
    for key in ("VARIANT_MAX_SIDE", "BATCH_SIZE", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS"):
        value = user.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                Error(
                    f"STYLERECS[{key!r}] must be a positive integer, not {value!r}.",
                    id="stylerecs.E006",
                )
            )
    return errors
