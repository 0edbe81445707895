from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Style


class GenerateVariantsForm(forms.Form):
    """The style picker of the admin's "generate variants" action."""

    styles = forms.ModelMultipleChoiceField(
        queryset=Style.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each selected product gets one variant per style."),
    )
