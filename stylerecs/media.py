"""Serving media with long cache headers for content-addressed files.

Variant and rendition files are named by the SHA-256 of their bytes
(``<prefix>/ab/abcdef....jpg``): a name never changes meaning, so browsers and CDNs may
keep them for a year without asking again (``immutable``). Other uploads keep Django's
default headers. Where a CDN, S3 or nginx serves MEDIA_URL, set the same header there
(docs/RENDITIONS.md).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.views.static import serve as static_serve

from .conf import stylerecs_settings

_CONTENT_ADDRESSED = re.compile(r"(?:^|/)([0-9a-f]{2})/(\1[0-9a-f]{62})\.[A-Za-z0-9]{1,5}$")


def is_content_addressed(path: str) -> bool:
    """Whether ``path`` is named by its bytes' SHA-256 (``xx/xx...64 hex....ext``)."""
    return bool(_CONTENT_ADDRESSED.search(path))


def cache_control(path: str) -> str | None:
    """The Cache-Control value for a media path, or None to leave it to the server."""
    if not is_content_addressed(path):
        return None
    return f"public, max-age={int(stylerecs_settings.CONTENT_ADDRESSED_MAX_AGE)}, immutable"


def serve(request, path, document_root=None, show_indexes=False):
    """``django.views.static.serve`` plus a year of caching for content-addressed files.

    ``document_root`` defaults to ``MEDIA_ROOT``, read per request (not when the URLconf
    is imported).
    """
    if document_root is None:
        document_root = settings.MEDIA_ROOT
    response = static_serve(request, path, document_root=document_root, show_indexes=show_indexes)
    value = cache_control(path)
    if value and response.status_code in (200, 304):
        response["Cache-Control"] = value
    return response
