"""Reading renditions for the markup: ``<picture>`` with ``srcset``, ``sizes``, width, height.

The template tag ``{% stylerecs_picture %}`` (templatetags/stylerecs_images.py) renders
what :func:`picture_context` returns. Pages that show many images look their renditions
up in one query with :func:`picture_sets` and pass the result along.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile

from .conf import stylerecs_settings
from .engine.renditions import FORMATS, MIME_TYPES
from .models import Rendition, RenditionStatus

# Without a display width the <img> fallback takes the rendition nearest this.
DEFAULT_FALLBACK_WIDTH = 640


@dataclass
class PictureSet:
    """The ready renditions of one source file, by format, smallest first."""

    source: str
    width: int = 0
    height: int = 0
    candidates: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def srcset(self, fmt: str) -> str:
        return ", ".join(f"{url} {width}w" for width, url in self.candidates.get(fmt, []))


def picture_sets(*, names: Iterable[str]) -> dict[str, PictureSet]:
    """The renditions of the given storage names, in one query; names without any are absent.

    Empty, with no query, while ``RENDITIONS_ENABLED`` is off (the markup ignores them).
    """
    wanted = sorted({name for name in names if name})
    if not wanted or not stylerecs_settings.RENDITIONS_ENABLED:
        return {}
    found: dict[str, PictureSet] = {}
    lists: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    rows = Rendition.objects.filter(source__in=wanted, status=RenditionStatus.READY).exclude(
        image=""
    )
    for row in rows.order_by("source", "format", "width"):
        found.setdefault(row.source, PictureSet(row.source, row.source_width, row.source_height))
        lists[row.source][row.format].append((row.width, default_storage.url(row.image.name)))
    for name, by_format in lists.items():
        # Best format first, whatever the setting's order: browsers take the first match.
        found[name].candidates = {f: by_format[f] for f in FORMATS if f in by_format}
    return found


def _file_and_size(source) -> tuple[FieldFile | None, int, int]:
    """The stored file of ``source`` (a FieldFile, or a variant) and its known size."""
    if isinstance(source, FieldFile):
        return (source if source else None), 0, 0
    file = getattr(source, "image", None) if source else None
    if not isinstance(file, FieldFile) or not file:
        return None, 0, 0
    return file, int(getattr(source, "width", 0) or 0), int(getattr(source, "height", 0) or 0)


def picture_context(
    source,
    *,
    sizes: str = "100vw",
    alt: str = "",
    lazy: bool = True,
    priority: bool = False,
    css_class: str = "",
    display_width: int | None = None,
    renditions: dict | None = None,
    legacy_width: int | None = None,
    legacy_height: int | None = None,
) -> dict:
    """What ``stylerecs/includes/picture.html`` needs to show ``source``.

    ``source`` is a FieldFile (a product photo) or a variant (its ``image``, ``width``,
    ``height``). ``display_width`` caps the width attribute (the height follows the
    aspect ratio); ``renditions`` is the result of :func:`picture_sets` for the page.
    With ``RENDITIONS_ENABLED`` off, the old single-file ``<img>`` is rendered, with
    ``legacy_width``/``legacy_height`` as its attributes.
    """
    file, width, height = _file_and_size(source)
    context = {
        "alt": alt,
        "css_class": css_class,
        "sizes": sizes,
        "lazy": lazy,
        "priority": priority,
        "src": file.url if file else "",
        "sources": [],
        "srcset": "",
        "width": 0,
        "height": 0,
    }
    if not file:
        return context
    if not stylerecs_settings.RENDITIONS_ENABLED:
        context.update(legacy=True, width=legacy_width or 0, height=legacy_height or 0)
        return context
    found = renditions if renditions is not None else picture_sets(names=[file.name])
    pictures = found.get(file.name)
    if pictures is not None and pictures.width:
        width, height = pictures.width, pictures.height
    if width and height:
        shown = min(width, display_width) if display_width else width
        context.update(width=shown, height=max(1, round(height * shown / width)))
    if pictures is None or not pictures.candidates:
        return context  # not rendered yet: the stored file, still with its size
    formats = list(pictures.candidates)
    fallback = formats[-1]
    target = display_width or DEFAULT_FALLBACK_WIDTH
    fallback_list = pictures.candidates[fallback]
    src = next((url for w, url in fallback_list if w >= target), fallback_list[-1][1])
    context.update(
        src=src,
        srcset=pictures.srcset(fallback),
        sources=[{"type": MIME_TYPES[fmt], "srcset": pictures.srcset(fmt)} for fmt in formats[:-1]],
    )
    return context
