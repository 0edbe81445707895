"""Issue 10's findings: every input that answered 500 now gets a clear 4xx.

Covers stylerecs/middleware.py, stylerecs/api/parsers.py, the OPTIONS metadata of the
``me/`` views and the "for you" sort of the demo catalogue, each with the exact input of
the security pass.
"""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

pytestmark = [pytest.mark.django_db]

DEEP = 5000  # levels: well past Python's recursion limit


@pytest.fixture
def staff_client():
    staff = User.objects.create_user("curator", password="pw", is_staff=True)
    for codename in ("view_generationbatch", "add_generationbatch"):
        staff.user_permissions.add(
            Permission.objects.get(content_type__app_label="stylerecs", codename=codename)
        )
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "path",
    ["/api/products/?style=%00", "/api/styles/a%00/", "/api/variants/?status=%00"],
)
def test_nul_in_api_query_or_path_is_a_json_400(path, make_style):
    make_style("noir")

    response = Client().get(path)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/?style=%00", "/?category=%00", "/admin/login/?next=%00"])
def test_nul_in_storefront_query_is_a_400(path):
    response = Client().get(path)

    assert response.status_code == 400
    assert b"NUL" in response.content


def test_nul_in_a_posted_form_is_a_400(make_product):
    product = make_product()

    response = Client().post("/events/", {"product": product.pk, "kind": "like\x00"})

    assert response.status_code == 400


def test_nul_in_a_preferences_weights_key_is_a_400(make_style):
    make_style("noir")
    body = '{"weights": {"no\\u0000ir": 0.5}}'

    response = Client().put("/api/me/preferences/", body, content_type="application/json")

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_nul_in_batch_styles_is_a_400_for_staff(staff_client, make_product, make_style):
    product = make_product()
    make_style("noir")
    body = json.dumps({"product_ids": [str(product.pk)], "styles": ["noir\x00"]})

    response = staff_client.post("/api/batches/", body, content_type="application/json")

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_sort_for_you_without_a_session_lists_the_catalogue(make_product):
    products = [make_product(title=t) for t in ("B print", "A print")]

    response = Client().get("/?sort=for_you")

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("A print") < body.index("B print")
    assert all(p.title in body for p in products)


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/me/preferences/", "put"), ("/api/interactions/", "post"), ("/api/auth/token/", "post")],
)
def test_json_nested_thousands_of_levels_is_a_400(path, method):
    body = "[" * DEEP + "]" * DEEP

    response = getattr(Client(), method)(path, body, content_type="application/json")

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_json_nested_past_the_depth_setting_is_a_400_before_any_serializer(settings):
    settings.STYLERECS = {**settings.STYLERECS, "MAX_JSON_DEPTH": 3}
    body = json.dumps({"weights": {"noir": [[0.5]]}})

    response = Client().put("/api/me/preferences/", body, content_type="application/json")

    assert response.status_code == 400
    assert "more than 3 levels" in response.json()["detail"]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "user"])
def test_options_on_my_preferences_describes_the_put(signed_in):
    client = Client()
    if signed_in:
        client.force_login(User.objects.create_user("ada", password="pw"))

    response = client.options("/api/me/preferences/")

    assert response.status_code == 200
    assert set(response.json()["actions"]["PUT"]) == {"personalise", "weights"}


def test_options_on_my_data_answers(db):
    response = Client().options("/api/me/data/")

    assert response.status_code == 200
    assert response.json()["name"]


@pytest.fixture
def superuser_client(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _style_form(slug: str, image: bytes) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import admin_style_form

    return admin_style_form(
        name=slug.title(),
        slug=slug,
        reference_image=SimpleUploadedFile(f"{slug}.jpg", image, content_type="image/jpeg"),
    )


def test_admin_adds_a_style_with_an_uploaded_reference(superuser_client):
    from stylerecs.models import Style

    from .conftest import sample_jpeg

    response = superuser_client.post(
        "/admin/stylerecs/style/add/", _style_form("ink", sample_jpeg())
    )

    assert response.status_code == 302, response.content[:2000]
    style = Style.objects.get(slug="ink")
    assert len(style.reference_checksum) == 64 and style.reference_image.size > 0


def test_admin_refuses_a_reference_that_verify_accepts_but_cannot_decode(superuser_client):
    from PIL import Image

    from stylerecs.models import Style

    from .conftest import sample_jpeg

    cut = sample_jpeg()[:-600]  # header intact, scan cut short: Pillow's verify() passes
    Image.open(io.BytesIO(cut)).verify()

    response = superuser_client.post("/admin/stylerecs/style/add/", _style_form("cut", cut))

    assert response.status_code == 200
    assert "cannot be used as an image" in response.content.decode()
    assert not Style.objects.filter(slug="cut").exists()


def test_nul_in_an_api_form_body_is_a_json_400(make_product):
    product = make_product()

    response = Client().post("/api/interactions/", {"product": product.pk, "kind": "like\x00"})

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
