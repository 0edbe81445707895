"""/api/schema/ and /api/docs/ in a host without drf-spectacular settings (the demo sets
none) and in one that sets its own (stylerecs/api/schema.py)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from drf_spectacular.validation import validate_schema

pytestmark = [pytest.mark.django_db]


def test_schema_answers_without_schema_class_or_spectacular_settings(settings):
    assert "DEFAULT_SCHEMA_CLASS" not in settings.REST_FRAMEWORK
    assert not hasattr(settings, "SPECTACULAR_SETTINGS")

    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # raises on an invalid OpenAPI document
    assert schema["info"]["title"] == "stylerecs API"
    assert "/api/me/data/" in schema["paths"] and "/api/schema/" not in schema["paths"]


def test_docs_page_uses_sidecar_files_without_spectacular_settings():
    page = Client().get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


@override_settings(
    SPECTACULAR_SETTINGS={"TITLE": "Acme API", "SWAGGER_UI_DIST": "https://cdn.example/sui"}
)
def test_host_spectacular_settings_win():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    page = Client().get("/api/docs/").content.decode()

    assert schema["info"]["title"] == "Acme API"
    assert "https://cdn.example/sui/swagger-ui-bundle.js" in page
