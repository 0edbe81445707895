"""Schemathesis over the whole OpenAPI schema, as anonymous, shopper and staff.

A live server (pytest-django's ``live_server``, on the PostgreSQL test database) serves
the API with real rows: products with approved variants, styles, a shopper and a
curator with tokens. Every operation of ``/api/schema/`` gets generated requests (valid
and invalid ones); every answer must be no 5xx, a documented status code and content
type, and a body that matches its documented schema. Throttles are raised out of the
way (they are tested in tests/integration/test_abuse_controls.py).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.contrib.auth.models import Permission, User
from hypothesis import given, seed
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import FUZZ_SETTINGS, SEED

pytestmark = [pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
REQUEST_TIMEOUT_S = 60
STAFF_PERMS = [
    "view_generationbatch",
    "add_generationbatch",
    "view_stylizedvariant",
    "review_stylizedvariant",
]


@pytest.fixture
def shop_rows(transactional_db, make_product, make_style, make_variant, settings):
    settings.REST_FRAMEWORK = {
        **api_settings.user_settings,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(
            ["anon", "user", "stylerecs_events", "stylerecs_login"], "100000/min"
        ),
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # No worker runs here: a batch the staff fuzzing creates stays pending.
    settings.STYLERECS = {**settings.STYLERECS, "AUTO_APPROVE": False}
    noir, vintage = make_style("noir"), make_style("vintage", source="astronaut")
    for title in ("Chelsea print", "Coffee print"):
        product = make_product(title=title)
        make_variant(product, noir)
        make_variant(product, vintage)
    shopper = User.objects.create_user("alice", password="pw")
    staff = User.objects.create_user("curator", password="pw", is_staff=True)
    for codename in STAFF_PERMS:
        staff.user_permissions.add(
            Permission.objects.get(content_type__app_label="stylerecs", codename=codename)
        )
    return {
        "anonymous": {},
        "shopper": {"Authorization": f"Token {Token.objects.create(user=shopper).key}"},
        "staff": {"Authorization": f"Token {Token.objects.create(user=staff).key}"},
    }


def _openapi() -> dict:
    """The schema exactly as ``/api/schema/`` serves it (generated, rendered to JSON)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


def _fuzz_operation(operation, *, base_url: str, headers: dict, seen: set[int]) -> None:
    @FUZZ_SETTINGS
    @seed(SEED)
    @given(case=operation.as_strategy())
    def fuzz(case):
        # A generous timeout: the machine is shared; a hang still fails the test.
        response = case.call_and_validate(
            base_url=base_url, headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
        )
        seen.add(response.status_code)

    fuzz()


@pytest.mark.parametrize("principal", ["anonymous", "shopper", "staff"])
def test_every_operation_answers_as_documented(principal, live_server, shop_rows):
    # One test per principal, every operation inside it: the rows and the live server
    # are set up (and the database flushed) three times, not once per operation.
    schema = schemathesis.openapi.from_dict(_openapi())
    failures, statuses = {}, {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:
        seen = statuses.setdefault(operation.label, set())
        try:
            _fuzz_operation(
                operation, base_url=live_server.url, headers=shop_rows[principal], seen=seen
            )
        except Exception as exc:  # noqa: BLE001 (collect every operation's failure)
            failures[operation.label] = exc
    assert not failures, "\n\n".join(f"{label}:\n{exc}" for label, exc in failures.items())
    # The principal was who it should be: staff read the staff list, others may not.
    staff_list = statuses["GET /api/variants/"]
    assert (200 in staff_list) == (principal == "staff"), staff_list
    assert 200 in statuses["GET /api/me/preferences/"]
