"""OpenAPI (drf-spectacular): extensions for the API's own classes, the schema class,
and the schema and docs views that work in a host without any schema settings of its own.

Imported by ``urls.py``, so the extensions are registered before any schema is
generated. ``AutoSchema`` is what stylerecs' views are described with (whatever the host's
``DEFAULT_SCHEMA_CLASS``): on top of drf-spectacular's it declares what the API really
does beyond the happy path, so that clients (and the schemathesis suite in tests/fuzz)
can rely on the document:

- anonymous access where a permission lets anonymous callers in (``allows_anonymous``):
  the shopper endpoints serve visitors by their session;
- the error answers every operation can give: 400 (invalid fields, JSON or NUL
  characters), 401/403 (a bad token, a missing permission, a failed CSRF check), 404
  (an unknown id or page) and 429 (throttled), each with DRF's error body.
"""

from __future__ import annotations

from django.conf import settings
from django.templatetags.static import static
from drf_spectacular import generators
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.schemas.inspectors import DefaultSchema, ViewInspector
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .openapi import AutoSchema


class ShopperSessionScheme(SessionScheme):
    """Our session authentication is DRF's (a session cookie, CSRF on writes)."""

    target_class = "stylerecs.api.authentication.ShopperSessionAuthentication"
    priority = 0


class ManyRelatedFieldScheme(OpenApiSerializerFieldExtension):
    """A ``many=True`` related field with ``allow_empty=False`` needs at least one item.

    drf-spectacular leaves ``allow_empty`` out, so an empty list looked valid.
    """

    target_class = "rest_framework.relations.ManyRelatedField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if not self.target.allow_empty:
            schema["minItems"] = 1
        return schema


# What the API's schema and docs pages use where the host's SPECTACULAR_SETTINGS say
# nothing: a host needs no drf-spectacular settings of its own for /api/schema/ and
# /api/docs/ to work, and whatever it does set wins.
SCHEMA_DEFAULTS = {
    "TITLE": "stylerecs API",
    "DESCRIPTION": (
        "Styles, products with their approved stylized variants, a shopper's style "
        "preferences, recommendations and data, and staff curation (generation batches, "
        "variant review). Session (with CSRF) or token authentication."
    ),
    "VERSION": "1.0.0",
    "COMPONENT_SPLIT_REQUEST": True,
}


def _host_spectacular_settings() -> dict:
    return getattr(settings, "SPECTACULAR_SETTINGS", None) or {}


def extend_method_schema(**kwargs):
    """``extend_schema`` for one view method, based on drf-spectacular's AutoSchema.

    Applied to a method, ``extend_schema`` builds on the host's DEFAULT_SCHEMA_CLASS (it
    cannot see the view's ``schema``), and on DRF's default that schema cannot work;
    a ``schema`` attribute on the method is the base it looks at first.
    """

    def decorator(method):
        method.schema = AutoSchema
        return extend_schema(**kwargs)(method)

    return decorator


class OpenAPISchema(DefaultSchema):
    """drf-spectacular's AutoSchema for stylerecs' views, whatever the host's
    ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` (DRF's default cannot describe them)."""

    def __get__(self, instance, owner):
        result = ViewInspector.__get__(self, instance, owner)
        if not isinstance(result, OpenAPISchema):
            return result  # a schema set on one view instance
        configured = api_settings.DEFAULT_SCHEMA_CLASS
        schema_class = configured if issubclass(configured, AutoSchema) else AutoSchema
        inspector = schema_class()
        inspector.view = instance
        return inspector


class SchemaGenerator(generators.SchemaGenerator):
    """Describes the host's other DRF views too (the router's root, the token view):
    a view without a drf-spectacular schema gets drf-spectacular's AutoSchema."""

    def create_view(self, callback, method, request=None):
        view = super().create_view(callback, method, request)
        if isinstance(view, APIView) and not isinstance(view.schema, SpectacularAutoSchema):
            self._set_schema_to_view(view, AutoSchema())
        return view


class SchemaView(SpectacularAPIView):
    """``/api/schema/``: the OpenAPI document, with stylerecs' defaults under the host's
    SPECTACULAR_SETTINGS."""

    generator_class = SchemaGenerator
    schema = OpenAPISchema()

    @extend_method_schema(exclude=True)  # the schema does not describe its own endpoint
    def get(self, request, *args, **kwargs):
        # drf-spectacular refuses its SERVE_* settings here (they are view attributes).
        host = {
            k: v
            for k, v in _host_spectacular_settings().items()
            if not k.startswith("SERVE_") and k != "DEFAULT_GENERATOR_CLASS"
        }
        self.custom_settings = {**SCHEMA_DEFAULTS, **host}
        return super().get(request, *args, **kwargs)


class DocsView(SpectacularSwaggerSplitView):
    """``/api/docs/``: Swagger UI from drf-spectacular-sidecar's static files (never a
    CDN) unless the host's SPECTACULAR_SETTINGS name another source. The split view
    serves its start-up script as a file, so a Content-Security-Policy without inline
    scripts allows it."""

    template_name = "stylerecs/api/swagger_ui.html"

    title = SCHEMA_DEFAULTS["TITLE"]
    schema = OpenAPISchema()

    @extend_method_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @staticmethod
    def _swagger_ui_resource(filename):
        dist = _host_spectacular_settings().get("SWAGGER_UI_DIST", "SIDECAR")
        if dist == "SIDECAR":
            return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")
        return f"{dist}/{filename}"

    @staticmethod
    def _swagger_ui_favicon():
        href = _host_spectacular_settings().get("SWAGGER_UI_FAVICON_HREF", "SIDECAR")
        if href == "SIDECAR":
            return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")
        return href
