"""``{% stylerecs_picture %}``: responsive ``<picture>`` markup for any stored image.

A host shows its own product photos the way stylerecs shows variants::

    {% load stylerecs_images %}
    {% stylerecs_picture product.image sizes="(max-width: 600px) 100vw, 300px" alt=product.title %}

The renditions are made by the worker (``manage.py stylerecs_renditions`` for files it
has not seen); until they exist the stored file is shown as it is.
"""

from django import template

from ..pictures import picture_context

register = template.Library()


@register.inclusion_tag("stylerecs/includes/picture.html")
def stylerecs_picture(
    source,
    sizes: str = "100vw",
    alt: str = "",
    lazy: bool = True,
    priority: bool = False,
    css_class: str = "",
    width: int | None = None,
    renditions: dict | None = None,
    legacy_width: int | None = None,
    legacy_height: int | None = None,
):
    """A ``<picture>`` of ``source`` (a FieldFile or a variant) with srcset and sizes.

    ``sizes`` says how wide the image is shown (as in HTML); ``width`` caps the width
    attribute (the height follows the aspect ratio, so nothing shifts as it loads);
    ``lazy=False`` for images above the fold and ``priority=True`` (fetchpriority=high)
    for the page's main image; ``renditions`` is what ``stylerecs.pictures.picture_sets``
    looked up for the whole page (else one query per image).
    """
    return picture_context(
        source,
        sizes=sizes,
        alt=alt,
        lazy=lazy,
        priority=priority,
        css_class=css_class,
        display_width=width,
        renditions=renditions,
        legacy_width=legacy_width,
        legacy_height=legacy_height,
    )


@register.filter
def stylerecs_beyond(position, count) -> bool:
    """Whether a card at ``position`` (1-based) comes after the first ``count``: lazy.

    ``{% stylerecs_picture p.image lazy=forloop.counter|stylerecs_beyond:4 %}`` loads the
    first row of a grid at once and the rest as they scroll into view.
    """
    try:
        return int(position) > int(count)
    except (TypeError, ValueError):
        return True
