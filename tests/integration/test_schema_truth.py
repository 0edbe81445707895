"""Issue 10: the OpenAPI schema and the API's behaviour agree.

Each test reads the served schema (/api/schema/?format=json) and calls the endpoint it
describes: price is a string, DELETE me/data/ answers what is documented, shopper
endpoints declare anonymous access, error answers are documented, an empty ``styles``
list is refused by the schema and with DRF's list of messages, and ``true`` is no weight.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def openapi(db) -> dict:
    return Client().get("/api/schema/", {"format": "json"}).json()


def _component(openapi: dict, ref: str) -> dict:
    return openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_price_is_documented_and_returned_as_a_decimal_string(openapi, make_product):
    product = make_product()

    documented = _component(openapi, "Product")["properties"]["price"]
    returned = Client().get(f"/api/products/{product.pk}/").json()["price"]

    assert documented["type"] == "string" and documented["format"] == "decimal"
    assert returned == "10.00"


def test_delete_my_data_answers_the_documented_status_and_body(openapi):
    documented = openapi["paths"]["/api/me/data/"]["delete"]["responses"]

    response = Client().delete("/api/me/data/")

    assert response.status_code == 200
    assert "200" in documented and "204" not in documented
    body = _component(openapi, documented["200"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["properties"]) == set(response.json()) == {"deleted"}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/me/preferences/", "get"),
        ("/api/me/preferences/", "put"),
        ("/api/me/recommendations/", "get"),
        ("/api/me/data/", "delete"),
        ("/api/interactions/", "post"),
        ("/api/styles/", "get"),
    ],
)
def test_endpoints_open_to_visitors_declare_anonymous_access(openapi, path, method):
    assert {} in openapi["paths"][path][method]["security"]


def test_staff_endpoints_do_not_declare_anonymous_access(openapi):
    assert {} not in openapi["paths"]["/api/batches/"]["post"]["security"]
    assert {} not in openapi["paths"]["/api/variants/"]["get"]["security"]


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/me/preferences/", "put", {"400", "401", "403", "429"}),
        ("/api/products/", "get", {"400", "404", "429"}),
        ("/api/styles/{slug}/", "get", {"404"}),
        ("/api/batches/", "post", {"400", "401", "403", "429"}),
        ("/api/variants/{id}/approve/", "post", {"401", "403", "404", "409"}),
        ("/api/auth/token/", "post", {"400", "429"}),
    ],
)
def test_error_answers_are_documented(openapi, path, method, codes):
    responses = openapi["paths"][path][method]["responses"]

    assert codes <= set(responses)
    for code in codes - {"400"}:
        schema = responses[code]["content"]["application/json"]["schema"]
        assert "detail" in _component(openapi, schema["$ref"])["properties"]


def test_documented_404_and_401_are_what_the_api_answers():
    unknown = Client().get("/api/styles/no-such-style/")
    not_an_id = Client().get("/api/interactions/0.5/")
    bad_token = Client(HTTP_AUTHORIZATION="Token nope").get("/api/styles/")

    assert unknown.status_code == not_an_id.status_code == 404
    assert not_an_id["Content-Type"] == "application/json"
    assert set(not_an_id.json()) == {"detail"}
    assert bad_token.status_code == 401 and "detail" in bad_token.json()


def test_an_empty_styles_list_is_refused_by_schema_and_api_alike(openapi, make_product):
    staff = User.objects.create_user("curator", password="pw", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="stylerecs", codename="add_generationbatch")
    )
    client = Client()
    client.force_login(staff)
    body = {"product_ids": [str(make_product().pk)], "styles": []}

    response = client.post("/api/batches/", json.dumps(body), content_type="application/json")

    documented = _component(openapi, "BatchRequest")["properties"]["styles"]
    assert documented["minItems"] == 1
    assert response.status_code == 400
    assert isinstance(response.json()["styles"], list)


@pytest.mark.parametrize("weight", [True, False])
def test_json_booleans_are_no_weights(openapi, make_style, weight):
    make_style("noir")
    body = json.dumps({"weights": {"noir": weight}})

    response = Client().put("/api/me/preferences/", body, content_type="application/json")

    documented = _component(openapi, "PreferencesRequest")["properties"]["weights"]
    assert documented["additionalProperties"]["type"] == "number"
    assert response.status_code == 400
    assert "weights" in response.json()


def test_a_numeric_weight_is_still_accepted(make_style):
    make_style("noir")
    body = json.dumps({"weights": {"noir": 1}})

    response = Client().put("/api/me/preferences/", body, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["weights"] == {"noir": 1.0}
