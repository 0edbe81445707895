"""A "Style variants" menu for oscar's dashboard, pointing at the stylerecs admin pages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def staff_may_curate(user, url_name, url_args=None, url_kwargs=None) -> bool:
    """Dashboard access for the stylerecs entries: staff who may see variants.

    oscar's default check only knows the dashboard's own views; these are admin pages.
    """
    return bool(user.is_staff and user.has_perm("stylerecs.view_stylizedvariant"))


def dashboard_navigation() -> list[dict]:
    """Entries to append to ``OSCAR_DASHBOARD_NAVIGATION``."""
    return [
        {
            "label": _("Style variants"),
            "icon": "fas fa-palette",
            "access_fn": staff_may_curate,
            "children": [
                {
                    "label": _("Styles"),
                    "url_name": "admin:stylerecs_style_changelist",
                    "access_fn": staff_may_curate,
                },
                {
                    "label": _("Review variants"),
                    "url_name": "admin:stylerecs_stylizedvariant_changelist",
                    "access_fn": staff_may_curate,
                },
                {
                    "label": _("Generation batches"),
                    "url_name": "admin:stylerecs_generationbatch_changelist",
                    "access_fn": staff_may_curate,
                },
                {
                    "label": _("Generate for products"),
                    "url_name": "admin:catalogue_product_changelist",
                    "access_fn": staff_may_curate,
                },
            ],
        }
    ]
