"""The REST API: who may call what (every endpoint x anonymous, shopper, other shopper,
staff), that nobody reads another shopper's data, export and delete, CSRF on session
writes, tokens, throttling, pagination and a valid OpenAPI schema.

Covers stylerecs/api/*.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings

from stylerecs.models import (
    GenerationBatch,
    Interaction,
    Recommendation,
    StylePreference,
    VariantStatus,
)
from stylerecs.services.events import interaction_record
from stylerecs.services.preferences import preferences_set
from stylerecs.shoppers import Shopper

pytestmark = [pytest.mark.django_db]

# Alice's data carries these markers: no one else's response may contain them.
SECRET_REASON = "Because you like Noir (alice only)"
STAFF_PERMS = [
    "stylerecs.view_generationbatch",
    "stylerecs.add_generationbatch",
    "stylerecs.view_stylizedvariant",
    "stylerecs.review_stylizedvariant",
]


@pytest.fixture(autouse=True)
def fresh_throttles(settings):
    # Throttle counters live in the cache: each test starts with none.
    cache.clear()
    # A slow password hash is a security feature, not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    cache.clear()


@dataclass
class World:
    product: object
    other_product: object
    noir: object
    vintage: object
    variant: object
    ready_variant: object
    alice: User
    bob: User
    staff: User
    alice_interaction: Interaction
    batch: GenerationBatch


@pytest.fixture
def world(make_product, make_style, make_variant) -> World:
    product = make_product(title="Chelsea print")
    other_product = make_product(title="Coffee print")
    noir, vintage = make_style("noir"), make_style("vintage", source="astronaut")
    variant = make_variant(product, noir)
    ready_variant = make_variant(other_product, vintage, status=VariantStatus.READY)
    alice = User.objects.create_user("alice", password="pw")
    bob = User.objects.create_user("bob", password="pw")
    staff = User.objects.create_user("curator", password="pw", is_staff=True)
    for perm in STAFF_PERMS:
        app_label, codename = perm.split(".")
        staff.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    preferences_set(shopper=Shopper.for_user(alice), weights={noir.pk: 0.8})
    liked = interaction_record(shopper=Shopper.for_user(alice), product_id=product.pk, kind="like")
    Recommendation.objects.create(
        user=alice,
        product=product,
        score=0.93,
        rank=1,
        reason=SECRET_REASON,
        computed_at=timezone.now(),
    )
    batch = GenerationBatch.objects.create(requested_by=staff, total=1, product_ids=[product.pk])
    batch.styles.set([noir])
    batch.variants.set([variant])
    return World(
        product,
        other_product,
        noir,
        vintage,
        variant,
        ready_variant,
        alice,
        bob,
        staff,
        liked,
        batch,
    )


def client_for(actor: str, world: World) -> Client:
    client = Client()
    if actor != "anonymous":
        client.force_login(
            {"shopper": world.alice, "other": world.bob, "staff": world.staff}[actor]
        )
    return client


def _dicts(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def leaks_alice(response, world: World) -> bool:
    """Whether a response shows anything that only alice's data holds."""
    body = response.content.decode()
    if SECRET_REASON in body:
        return True
    try:
        data = json.loads(body)
    except ValueError:
        return False
    for item in _dicts(data):
        if item.get("weights", {}).get("noir") == 0.8:  # her preferences
            return True
        if item.get("style") == "noir" and item.get("weight") == 0.8:  # her export
            return True
        if item.get("kind") and item.get("id") == world.alice_interaction.pk:  # her event
            return True
    return False


ACTORS = ["anonymous", "shopper", "other", "staff"]
OPEN = dict.fromkeys(ACTORS, 200)
STAFF_ONLY = {"anonymous": 401, "shopper": 403, "other": 403, "staff": 200}

# (name, method, path, body, expected status per actor, alice's data may show to alice)
MATRIX = [
    ("styles", "get", lambda w: "/api/styles/", None, OPEN),
    ("style", "get", lambda w: f"/api/styles/{w.noir.slug}/", None, OPEN),
    ("products", "get", lambda w: "/api/products/", None, OPEN),
    ("product", "get", lambda w: f"/api/products/{w.product.pk}/", None, OPEN),
    ("products-style", "get", lambda w: "/api/products/?style=noir", None, OPEN),
    ("my-preferences", "get", lambda w: "/api/me/preferences/", None, OPEN),
    (
        "set-preferences",
        "put",
        lambda w: "/api/me/preferences/",
        {"weights": {"vintage": 0.5}},
        OPEN,
    ),
    ("my-recommendations", "get", lambda w: "/api/me/recommendations/", None, OPEN),
    ("my-interactions", "get", lambda w: "/api/interactions/", None, OPEN),
    (
        "alice-interaction",
        "get",
        lambda w: f"/api/interactions/{w.alice_interaction.pk}/",
        None,
        {"anonymous": 404, "shopper": 200, "other": 404, "staff": 404},
    ),
    (
        "record-interaction",
        "post",
        lambda w: "/api/interactions/",
        lambda w: {"product": w.other_product.pk, "kind": "like"},
        dict.fromkeys(ACTORS, 201),
    ),
    ("my-data", "get", lambda w: "/api/me/data/", None, OPEN),
    ("batches", "get", lambda w: "/api/batches/", None, STAFF_ONLY),
    ("batch", "get", lambda w: f"/api/batches/{w.batch.pk}/", None, STAFF_ONLY),
    (
        "create-batch",
        "post",
        lambda w: "/api/batches/",
        lambda w: {"product_ids": [w.product.pk], "styles": ["vintage"]},
        {**STAFF_ONLY, "staff": 201},
    ),
    ("variants", "get", lambda w: "/api/variants/", None, STAFF_ONLY),
    ("variant", "get", lambda w: f"/api/variants/{w.variant.pk}/", None, STAFF_ONLY),
    (
        "approve",
        "post",
        lambda w: f"/api/variants/{w.ready_variant.pk}/approve/",
        None,
        STAFF_ONLY,
    ),
    ("reject", "post", lambda w: f"/api/variants/{w.variant.pk}/reject/", None, STAFF_ONLY),
    ("schema", "get", lambda w: "/api/schema/", None, OPEN),
    ("docs", "get", lambda w: "/api/docs/", None, OPEN),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in MATRIX],
)
def test_permission_matrix(world, actor, method, path, body, expected):
    client = client_for(actor, world)
    if callable(body):
        body = body(world)
    kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body else {}

    response = getattr(client, method)(path(world), **kwargs)

    assert response.status_code == expected[actor], response.content[:500]
    if actor != "shopper":
        assert not leaks_alice(response, world), response.content[:1000]
    if response.status_code == 401:
        assert response["WWW-Authenticate"] == "Token"


def test_shopper_sees_own_preferences_recommendations_and_interactions(world):
    client = client_for("shopper", world)

    prefs = client.get("/api/me/preferences/").json()
    recs = client.get("/api/me/recommendations/").json()
    interactions = client.get("/api/interactions/").json()

    assert prefs == {"personalise": True, "weights": {"noir": 0.8}}
    assert recs["count"] == 1
    assert recs["results"][0]["reason"] == SECRET_REASON
    assert recs["results"][0]["product"]["id"] == str(world.product.pk)
    assert [row["id"] for row in interactions["results"]] == [world.alice_interaction.pk]


def test_other_shopper_gets_popular_products_not_alices(world):
    response = client_for("other", world).get("/api/me/recommendations/")

    reasons = {row["reason"] for row in response.json()["results"]}
    assert reasons and reasons <= {"Popular right now", "New in the shop"}
    assert not leaks_alice(response, world)


def test_products_list_is_paginated_and_shows_only_approved_variants(world):
    data = Client().get("/api/products/").json()

    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 2
    by_title = {row["title"]: row for row in data["results"]}
    shown = by_title["Chelsea print"]["variants"]
    assert [(v["id"], v["style"]) for v in shown] == [(world.variant.pk, "noir")]
    assert by_title["Coffee print"]["variants"] == []  # ready, not approved: not shown
    assert by_title["Chelsea print"]["image"].startswith("http://testserver/media/")


def test_put_preferences_replaces_weights_and_toggles_personalisation(world):
    client = client_for("shopper", world)

    response = client.put(
        "/api/me/preferences/",
        data={"weights": {"vintage": 0.6}, "personalise": False},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {"personalise": False, "weights": {"vintage": 0.6}}
    rows = StylePreference.objects.filter(user=world.alice, source="explicit")
    assert list(rows.values_list("style__slug", "weight")) == [("vintage", 0.6)]


def test_put_preferences_rejects_unknown_styles_and_out_of_range_weights(world):
    client = client_for("shopper", world)

    unknown = client.put(
        "/api/me/preferences/", data={"weights": {"nope": 0.5}}, content_type="application/json"
    )
    too_big = client.put(
        "/api/me/preferences/", data={"weights": {"noir": 3}}, content_type="application/json"
    )

    assert unknown.status_code == 400 and "nope" in unknown.json()["weights"][0]
    assert too_big.status_code == 400


def test_anonymous_shopper_keeps_preferences_in_the_session(world):
    client = Client()

    client.put(
        "/api/me/preferences/", data={"weights": {"noir": -0.5}}, content_type="application/json"
    )
    again = client.get("/api/me/preferences/").json()
    stranger = Client().get("/api/me/preferences/").json()

    assert again["weights"] == {"noir": -0.5}
    assert stranger["weights"] == {}
    row = StylePreference.objects.get(user=None)
    assert row.session_key == client.session["stylerecs_anon_id"]


def test_interactions_refuse_server_side_kinds_and_foreign_variants(world):
    client = client_for("shopper", world)

    purchase = client.post("/api/interactions/", {"product": world.product.pk, "kind": "purchase"})
    wrong_variant = client.post(
        "/api/interactions/",
        {"product": world.other_product.pk, "kind": "like", "variant": world.variant.pk},
    )

    assert purchase.status_code == 400 and "kind" in purchase.json()
    assert wrong_variant.status_code == 400 and "variant" in wrong_variant.json()


def test_export_and_delete_via_the_api(world):
    alice = client_for("shopper", world)
    bob = client_for("other", world)
    bob.post("/api/interactions/", {"product": world.product.pk, "kind": "dislike"})

    export = alice.get("/api/me/data/").json()
    deleted = alice.delete("/api/me/data/")
    after = alice.get("/api/me/data/").json()

    assert [p["style"] for p in export["preferences"]] == ["noir"]
    assert [i["kind"] for i in export["interactions"]] == ["like"]
    assert [r["reason"] for r in export["recommendations"]] == [SECRET_REASON]
    assert deleted.status_code == 200
    assert deleted.json()["deleted"]["interactions"] == 1
    assert after["preferences"] == after["interactions"] == after["recommendations"] == []
    # Bob's data is his own and stays.
    assert [i["kind"] for i in bob.get("/api/me/data/").json()["interactions"]] == ["dislike"]


def test_token_authentication_needs_no_csrf(world):
    token = Token.objects.create(user=world.alice)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post("/api/interactions/", {"product": world.product.pk, "kind": "view"})
    bad = Client(HTTP_AUTHORIZATION="Token not-a-token").get("/api/me/preferences/")

    assert response.status_code == 201
    assert Interaction.objects.filter(user=world.alice, kind="view").exists()
    assert bad.status_code == 401


def test_obtain_token_with_username_and_password(world):
    response = Client().post("/api/auth/token/", {"username": "alice", "password": "pw"})

    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=world.alice).key


def _csrf_token(client: Client, world: World) -> str:
    # A product page carries forms, so it hands out the CSRF cookie.
    client.get(world.product.get_absolute_url())
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/api/me/preferences/", {"weights": {"noir": 1.0}}),
        ("post", "/api/interactions/", "like"),
        ("delete", "/api/me/data/", None),
    ],
)
@pytest.mark.parametrize("signed_in", [True, False], ids=["user", "anonymous"])
def test_session_writes_need_the_csrf_token(world, method, path, body, signed_in):
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(world.alice)
    token = _csrf_token(client, world)  # also gives an anonymous visitor a session
    assert "sessionid" in client.cookies
    if body == "like":
        body = {"product": world.product.pk, "kind": "like"}
    data = {"data": json.dumps(body), "content_type": "application/json"} if body else {}

    forged = getattr(client, method)(path, **data)
    genuine = getattr(client, method)(path, HTTP_X_CSRFTOKEN=token, **data)

    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"]
    assert genuine.status_code in (200, 201)


@override_settings(
    REST_FRAMEWORK={
        **api_settings.user_settings,
        "DEFAULT_THROTTLE_RATES": {
            "anon": "1000/min",
            "user": "1000/min",
            "stylerecs_events": "3/min",
        },
    }
)
def test_interactions_are_throttled(world):
    client = client_for("shopper", world)
    body = {"product": world.product.pk, "kind": "view"}

    statuses = [client.post("/api/interactions/", body).status_code for _ in range(4)]
    reads = client.get("/api/interactions/")

    assert statuses == [201, 201, 201, 429]
    assert int(client.post("/api/interactions/", body)["Retry-After"]) > 0
    assert reads.status_code == 200  # reading your own events is not an event


def test_staff_review_needs_the_review_permission(world):
    world.staff.user_permissions.remove(Permission.objects.get(codename="review_stylizedvariant"))
    client = client_for("staff", world)

    listing = client.get("/api/variants/")
    approve = client.post(f"/api/variants/{world.ready_variant.pk}/approve/")

    assert listing.status_code == 200
    assert approve.status_code == 403
    world.ready_variant.refresh_from_db()
    assert world.ready_variant.status == VariantStatus.READY


def test_staff_approve_then_shoppers_see_the_variant(world):
    staff = client_for("staff", world)

    approved = staff.post(f"/api/variants/{world.ready_variant.pk}/approve/").json()
    pending = world.ready_variant
    pending.status = VariantStatus.PENDING
    pending.save(update_fields=["status"])
    conflict = staff.post(f"/api/variants/{pending.pk}/reject/")

    assert approved["changed"] is True and approved["variant"]["status"] == "approved"
    assert conflict.status_code == 409
    product = Client().get(f"/api/products/{world.other_product.pk}/").json()
    assert product["variants"] == []  # pending again: hidden


def test_staff_create_batch_and_follow_its_progress(world):
    client = client_for("staff", world)

    created = client.post(
        "/api/batches/",
        data={"product_ids": [world.other_product.pk], "styles": ["noir", "vintage"]},
        content_type="application/json",
    )
    progress = client.get(f"/api/batches/{created.json()['id']}/").json()
    bad = client.post(
        "/api/batches/",
        data={"product_ids": [world.product.pk], "styles": ["nope"]},
        content_type="application/json",
    )

    assert created.status_code == 201
    assert progress["total"] == 2 and progress["styles"] == ["noir", "vintage"]
    assert progress["finished"] is False and progress["failures"] == []
    assert GenerationBatch.objects.get(pk=progress["id"]).source == "api"
    assert bad.status_code == 400 and "styles" in bad.json()


def test_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--generator-class",
        "stylerecs.api.schema.SchemaGenerator",
        "--file",
        str(out),
    )

    text = out.read_text()
    for path in (
        "/api/styles/",
        "/api/products/",
        "/api/me/preferences/",
        "/api/me/recommendations/",
        "/api/me/data/",
        "/api/interactions/",
        "/api/batches/",
        "/api/variants/{id}/approve/",
    ):
        assert f"{path}:" in text, path
    assert "cookieAuth" in text and "tokenAuth" in text


def test_docs_page_loads_swagger_ui_from_local_static_files(db):
    page = Client().get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()
