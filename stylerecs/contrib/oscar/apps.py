from django.apps import AppConfig


class StylerecsOscarConfig(AppConfig):
    """Put ``"stylerecs.contrib.oscar"`` in INSTALLED_APPS after oscar's apps."""

    name = "stylerecs.contrib.oscar"
    label = "stylerecs_oscar"
    verbose_name = "stylerecs for django-oscar"

    def ready(self) -> None:
        # The admin has imported every admin.py by now (django.contrib.admin comes
        # first in INSTALLED_APPS), so oscar's Product admin is there to extend.
        from .admin import register_product_admin

        register_product_admin()
