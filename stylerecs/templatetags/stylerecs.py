"""Template tags for host shops' pages."""

from django import template

from .. import selectors
from ..assignment import NO_EXPERIMENT, treatment_for
from ..conf import get_adapter
from ..models import Surface
from ..pictures import picture_sets
from ..selectors import approved_variants_for_product
from ..services.experiments import impressions_log
from ..services.preferences import personalisation_enabled
from ..shoppers import shopper_from_request

register = template.Library()


def _shopper(context):
    """The shopper behind the page and whether they let us personalise."""
    request = context.get("request")
    shopper = shopper_from_request(request, create=False) if request is not None else None
    return shopper, shopper is not None and personalisation_enabled(shopper=shopper)


@register.simple_tag(takes_context=True)
def stylerecs_arm(context, experiment_slug: str) -> str:
    """``{% stylerecs_arm "photo-test" as arm %}``: the slug of the shopper's arm in
    that experiment while it runs, else ``""`` (see ``assignment.treatment_for``)."""
    shopper, enabled = _shopper(context)
    if shopper is None:
        return ""
    treatment = treatment_for(shopper=shopper, personalise=enabled)
    return treatment.arm_slug(experiment_slug) or ""


@register.inclusion_tag("stylerecs/variant_switcher.html", takes_context=True)
def stylerecs_variant_switcher(context, product, size: int = 640, lead_style=None):
    """The product photo with its approved stylized variants and a way to switch.

    Leads with the variant in ``lead_style`` if given, else in the shopper's top style
    (from their preferences). A shopper with no style yet (a first visit) sees the
    original photo first, with the styles offered as tabs; a variant leads without a
    style only where the product has no original photo. Works without JavaScript
    (radio buttons and CSS); only approved variants of active styles are ever shown, the
    newest version of each style.
    The shopper's experiment arm may hide variants (all, or one style's); what leads
    is logged as an impression.
    """
    original = get_adapter().image_file(product)
    shopper, enabled = _shopper(context)
    treatment = treatment_for(shopper=shopper, personalise=enabled) if shopper else NO_EXPERIMENT
    variants, seen = [], set()
    for variant in approved_variants_for_product(product=product):
        if variant.style_id not in seen and treatment.shows_style(variant.style):
            seen.add(variant.style_id)
            variants.append(variant)
    lead = lead_style
    if lead is None and variants and enabled:
        # The shopper's favourite among the styles shown here (an arm may hide one).
        lead = selectors.top_style_for(shopper=shopper, among={v.style_id for v in variants})
    if lead is not None:
        # A stable sort: the shopper's style first, the others keep their order.
        variants.sort(key=lambda v: v.style_id != lead.pk)
    leading = next((v for v in variants if lead is not None and v.style_id == lead.pk), None)
    if leading is None and original is None and variants:
        leading = variants[0]
    names = [original.name] if original else []
    names += [v.image.name for v in variants]
    # The product page is an exposure: the photo it leads with is the impression.
    impressions_log(
        shopper=shopper,
        surface=Surface.PRODUCT,
        items=[(product.pk, leading.pk if leading else None)],
        treatment=treatment,
    )
    return {
        "product": product,
        "title": get_adapter().title(product),
        "original": original,
        "variants": variants,
        "leading": leading,
        "size": size,
        "sizes": f"(max-width: {size}px) 100vw, {size}px",
        # One query for every picture of the switcher (main panels and tabs).
        "renditions": picture_sets(names=names),
        "uid": f"sr-{product.pk}",
        # The switcher's <style> is per product; under django-csp it needs the nonce
        # (a lazy value: reading it is what puts it into the response's header).
        "csp_nonce": str(getattr(context.get("request"), "csp_nonce", "")),
    }


@register.inclusion_tag("stylerecs/feedback.html", takes_context=True)
def stylerecs_feedback(context, product, variant=None):
    """Like and dislike buttons for a product.

    A plain form (POST and redirect back) that works without JavaScript; with it,
    ``storefront.js`` sends the same form with fetch() and the page does not reload. The
    variant on show (the switcher's choice) is sent along when there is one.
    """
    request = context.get("request")
    return {
        "product": product,
        "variant": variant,
        "next": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def stylerecs_percent(value, digits: int = 1) -> str:
    """``0.0423|stylerecs_percent`` is ``"4.2%"``; ``None`` is a dash."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"
