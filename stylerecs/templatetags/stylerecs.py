"""Template tags for host shops' pages."""

from django import template

from .. import selectors
from ..conf import get_adapter
from ..pictures import picture_sets
from ..selectors import approved_variants_for_product
from ..services.preferences import personalisation_enabled
from ..shoppers import shopper_from_request

register = template.Library()


def _top_style(context):
    """The shopper's favourite style, or ``None`` (no shopper yet, or personalisation off)."""
    request = context.get("request")
    shopper = shopper_from_request(request, create=False) if request is not None else None
    if shopper is None or not personalisation_enabled(shopper=shopper):
        return None
    return selectors.top_style_for(shopper=shopper)


@register.inclusion_tag("stylerecs/variant_switcher.html", takes_context=True)
def stylerecs_variant_switcher(context, product, size: int = 640, lead_style=None):
    """The product photo with its approved stylized variants and a way to switch.

    Leads with the variant in ``lead_style`` if given, else in the shopper's top style
    (from their preferences). A shopper with no style yet (a first visit) sees the
    original photo first, with the styles offered as tabs; a variant leads without a
    style only where the product has no original photo. Works without JavaScript
    (radio buttons and CSS); only approved variants of active styles are ever shown, the
    newest version of each style.
    """
    original = get_adapter().image_file(product)
    variants, seen = [], set()
    for variant in approved_variants_for_product(product=product):
        if variant.style_id not in seen:
            seen.add(variant.style_id)
            variants.append(variant)
    lead = lead_style if lead_style is not None else (_top_style(context) if variants else None)
    if lead is not None:
        # A stable sort: the shopper's style first, the others keep their order.
        variants.sort(key=lambda v: v.style_id != lead.pk)
    leading = next((v for v in variants if lead is not None and v.style_id == lead.pk), None)
    if leading is None and original is None and variants:
        leading = variants[0]
    names = [original.name] if original else []
    names += [v.image.name for v in variants]
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
