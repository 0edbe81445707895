"""Template tags for host shops' pages."""

from django import template

from ..conf import get_adapter
from ..selectors import approved_variants_for_product

register = template.Library()


@register.inclusion_tag("stylerecs/variant_switcher.html")
def stylerecs_variant_switcher(product, size: int = 640):
    """The product photo with its approved stylized variants and a way to switch.

    Works without JavaScript (radio buttons and CSS); only approved variants of active
    styles are ever shown, the newest version of each style.
    """
    original = get_adapter().image_file(product)
    variants, seen = [], set()
    for variant in approved_variants_for_product(product=product):
        if variant.style_id not in seen:
            seen.add(variant.style_id)
            variants.append(variant)
    return {
        "product": product,
        "title": get_adapter().title(product),
        "original": original,
        "variants": variants,
        "size": size,
        "uid": f"sr-{product.pk}",
    }
