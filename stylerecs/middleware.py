"""One input-cleaning layer in front of every view: no NUL byte reaches the database.

PostgreSQL text cannot hold U+0000, so a NUL in a query parameter, a path segment or a
posted form field makes the query raise ``DataError`` (a 500) wherever that value is
used in a filter: ``?style=%00``, ``/api/styles/a%00/``, an admin search. Checking each
view would miss the next one; checking once here answers every such request with a 400
before any view runs. JSON bodies are checked by ``stylerecs.api.parsers.JSONParser``.
"""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve

NUL = "\x00"
MESSAGE = "Requests must not contain NUL characters (%00)."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_nul(query_dict) -> bool:
    return any(NUL in key or any(NUL in v for v in values) for key, values in query_dict.lists())


def _is_api(path: str) -> bool:
    """Whether ``path`` is served by a DRF view (whose clients expect JSON errors)."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "cls", None)
    return view_class is not None and hasattr(view_class, "throttle_classes")


class RejectNulMiddleware:
    """Answer 400 to a request whose path, query string or form fields hold a NUL.

    It reads a form body only for POSTs of form types to non-API views, as CSRF
    checking does anyway; API bodies are checked by the API's parsers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Resolving the path (to answer API clients in JSON) only when it matters.
        bad = NUL in request.path_info or _has_nul(request.GET)
        api = None
        if not bad and request.method == "POST" and request.content_type in FORM_TYPES:
            api = _is_api(request.path_info)
            # API bodies are left to the API's parsers, which answer in JSON.
            bad = not api and self._bad_form(request)
        if bad:
            if api if api is not None else _is_api(request.path_info.replace(NUL, "")):
                return JsonResponse({"detail": MESSAGE}, status=400)
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _bad_form(request) -> bool:
        return _has_nul(request.POST) or any(
            NUL in (f.name or "") for _, files in request.FILES.lists() for f in files
        )
