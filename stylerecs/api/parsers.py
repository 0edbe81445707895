"""Request parsers for the API: DRF's, plus the limits a public endpoint needs.

Registered as ``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` (see README). They refuse,
with a 400 instead of a 500:

- JSON nested deeper than ``STYLERECS["MAX_JSON_DEPTH"]``: the standard library's
  decoder recurses once per level and raises ``RecursionError`` a few thousand levels
  down, which DRF does not catch; serializers that walk the data recurse as well.
- NUL characters in any key or string, JSON or form: PostgreSQL text cannot hold them
  (``DataError``), and no stylerecs field has a use for them.
- Forms past Django's ``DATA_UPLOAD_MAX_*`` limits, which Django would answer with an
  HTML 400 page.
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from ..conf import stylerecs_settings

NUL = "\x00"
NUL_MESSAGE = "JSON strings and keys must not contain NUL characters (\\u0000)."


def check_json(data, *, max_depth: int) -> None:
    """Raise ``ParseError`` if ``data`` is nested too deeply or holds a NUL (iteratively)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > max_depth:
                raise ParseError(f"JSON is nested more than {max_depth} levels deep.")
            for key, item in value.items():
                if NUL in key:
                    raise ParseError(NUL_MESSAGE)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > max_depth:
                raise ParseError(f"JSON is nested more than {max_depth} levels deep.")
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and NUL in value:
            raise ParseError(NUL_MESSAGE)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a depth limit and no NUL characters."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            # Leave the except block before anything else allocates frames.
            raise ParseError("JSON is nested too deeply.") from exc
        check_json(data, max_depth=stylerecs_settings.MAX_JSON_DEPTH)
        return data


def _check_form(data) -> None:
    for key, values in data.lists():
        if NUL in key or any(isinstance(v, str) and NUL in v for v in values):
            raise ParseError("Form fields must not contain NUL characters.")


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing NUL characters in names and values."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except SuspiciousOperation as exc:  # too many fields, too big: a JSON 400
            raise ParseError(str(exc)) from exc
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL characters in field names and values."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            result = super().parse(stream, media_type, parser_context)
        except SuspiciousOperation as exc:  # DATA_UPLOAD_MAX_NUMBER_FIELDS and the like
            raise ParseError(str(exc)) from exc
        _check_form(result.data)
        return result
