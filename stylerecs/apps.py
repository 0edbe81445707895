from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StylerecsConfig(AppConfig):
    name = "stylerecs"
    verbose_name = _("Style recommendations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import setting_changed
        from django.db.models.signals import post_delete, post_save

        from . import checks, experiment_checks, host_checks, scoring_checks  # noqa: F401
        from .conf import reload_on_setting_changed
        from .models import Arm, Experiment
        from .receivers import experiment_rows_changed, merge_anonymous_shopper

        setting_changed.connect(reload_on_setting_changed, dispatch_uid="stylerecs_settings")
        user_logged_in.connect(merge_anonymous_shopper, dispatch_uid="stylerecs_merge_shopper")
        for model in (Experiment, Arm):
            for signal in (post_save, post_delete):
                signal.connect(
                    experiment_rows_changed,
                    sender=model,
                    dispatch_uid=f"stylerecs_{model.__name__}",
                )
