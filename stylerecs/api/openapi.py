"""The schema class stylerecs' views are described with (drf-spectacular's, plus what the
API really does beyond the happy path).

Its own module, importing nothing from ``drf_spectacular.views``: a host that names it
as ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` makes DRF import it while
``drf_spectacular.views`` is being imported, which would be circular from
``stylerecs.api.schema``.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """DRF's error body: one message."""

    detail = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "Error"


VALIDATION_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "Invalid input: each invalid field names its errors (a list of messages, or an "
        "object for nested fields), or `detail` says why the body could not be read "
        "(malformed or too deeply nested JSON, NUL characters)."
    ),
)
ERRORS = {
    "401": "Credentials were sent but are not valid (a bad or expired token).",
    "403": "Not allowed: a missing permission, or a session write without its CSRF token.",
    "404": "No such object, page or style.",
    "429": "Too many requests: try again after `Retry-After` seconds.",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus anonymous access and the documented error answers."""

    def get_auth(self):
        auths = super().get_auth()
        open_to_anonymous = any(
            getattr(permission, "allows_anonymous", False)
            for permission in self.view.get_permissions()
        )
        if open_to_anonymous and {} not in auths:
            auths.append({})
        return auths

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = {"400": VALIDATION_ERROR}
        if self.view.get_authenticators():
            codes["401"] = codes["403"] = None
        if "{" in self.path or self.get_filter_backends() or self._has_query_parameters():
            codes["404"] = None
        if self.view.get_throttles():
            codes["429"] = None
        for code, response in codes.items():
            if code not in responses:
                response = response or OpenApiResponse(ErrorSerializer, description=ERRORS[code])
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _has_query_parameters(self) -> bool:
        # Paginated lists answer 404 for a page past the end; a filter by slug for an
        # unknown slug.
        return bool(self._get_paginator() and self._is_list_view()) or any(
            param.get("in") == "query" for param in self._get_parameters()
        )
