from django import forms
from django.utils.translation import gettext_lazy as _

from .conf import get_product_model
from .models import InteractionKind, Style, StylizedVariant, VariantStatus

# Explicit weights: -1 (not for me) .. 0 (no opinion) .. 1 (love it).
WEIGHT_MIN, WEIGHT_MAX, WEIGHT_STEP = -1.0, 1.0, 0.1


class GenerateVariantsForm(forms.Form):
    """The style picker of the admin's "generate variants" action."""

    styles = forms.ModelMultipleChoiceField(
        queryset=Style.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each selected product gets one variant per style."),
    )


class EventForm(forms.Form):
    """A like or a dislike from a product page (a form POST or a fetch of the same form).

    Only likes and dislikes come from the browser: views, carts and purchases are
    recorded by the shop's own views, so a script cannot fake them.
    """

    KINDS = [InteractionKind.LIKE, InteractionKind.DISLIKE]

    product = forms.ModelChoiceField(queryset=None)
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in KINDS])
    # Only variants on show: a hidden style's id is refused like an unknown one.
    variant = forms.ModelChoiceField(
        queryset=StylizedVariant.objects.filter(
            status=VariantStatus.APPROVED, style__is_active=True
        ),
        required=False,
    )
    next = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The host's product model is looked up when a form is made, not at import.
        self.fields["product"].queryset = get_product_model()._default_manager.all()

    def clean(self):
        data = super().clean()
        variant, product = data.get("variant"), data.get("product")
        seen = variant is None or (
            product is not None
            and variant.product_id == product.pk
            and variant.is_visible_to_shoppers
        )
        if not seen:
            # A variant the shopper cannot have seen: keep the event, drop the variant.
            data["variant"] = None
        return data

    def thanks(self) -> str:
        if self.cleaned_data["kind"] == InteractionKind.LIKE:
            return "Thanks! We'll show you more like this."
        return "Got it: fewer like this from now on."


class QuizForm(forms.Form):
    """One round per product: pick the style you like best, or skip it.

    The rounds shown are posted back (``shown``) so the service learns from what was
    offered and not picked, too; both are checked against what the quiz could show.
    """

    def __init__(self, *args, rounds, **kwargs):
        super().__init__(*args, **kwargs)
        self.rounds = rounds
        self.allowed = {v.pk for _, variants in rounds for v in variants}
        for product, variants in rounds:
            self.fields[f"pick_{product.pk}"] = forms.TypedChoiceField(
                choices=[("", _("Skip"))] + [(v.pk, v.style.name) for v in variants],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
            )

    def clean(self):
        data = super().clean()
        if not self.picked_variant_ids():
            raise forms.ValidationError(_("Pick at least one look you like."))
        return data

    def picked_variant_ids(self) -> list[int]:
        return [
            value
            for name, value in self.cleaned_data.items()
            if name.startswith("pick_") and value in self.allowed
        ]

    def shown_variant_ids(self) -> list[int]:
        return sorted(self.allowed)

    def rounds_for_template(self) -> list[dict]:
        return [
            {"product": product, "variants": variants, "field": self[f"pick_{product.pk}"]}
            for product, variants in self.rounds
        ]


class PreferencesForm(forms.Form):
    """ "My style": one weight per active style, from -1 (not for me) to 1 (love it)."""

    def __init__(self, *args, styles, initial_weights, **kwargs):
        super().__init__(*args, **kwargs)
        self.styles = styles
        for style in styles:
            self.fields[f"style_{style.pk}"] = forms.FloatField(
                label=style.name,
                min_value=WEIGHT_MIN,
                max_value=WEIGHT_MAX,
                initial=round(initial_weights.get(style.pk, 0.0), 2),
                widget=forms.NumberInput(
                    attrs={
                        "type": "range",
                        "min": WEIGHT_MIN,
                        "max": WEIGHT_MAX,
                        "step": WEIGHT_STEP,
                    }
                ),
            )

    def weights(self) -> dict[int, float]:
        """``{style id: weight}`` with the styles left at 0 (no opinion) left out."""
        return {
            style.pk: round(self.cleaned_data[f"style_{style.pk}"], 3)
            for style in self.styles
            if abs(self.cleaned_data[f"style_{style.pk}"]) >= 1e-6
        }

    def rows(self) -> list[tuple]:
        return [(style, self[f"style_{style.pk}"]) for style in self.styles]
