"""Issue 10's abuse controls: throttles by an address that cannot be forged, password
guessing throttled and locked out, hidden variants refused like unknown ids, the
browsable API and the proxy's HTTPS header only when configured.

Covers stylerecs/api/throttles.py, stylerecs/api/views.py (TokenView), shop/backends.py
and the hardening block of shop/settings.py.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory, override_settings
from rest_framework.settings import api_settings

from stylerecs.api.throttles import client_address
from stylerecs.models import Interaction

from .test_settings import manage

pytestmark = [pytest.mark.django_db]

PASSWORD = "pw-for-tests-only"


def rates(**scopes) -> dict:
    base = {"anon": "1000/min", "user": "1000/min", "stylerecs_events": "1000/min"}
    base["stylerecs_login"] = "1000/min"
    return {**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": {**base, **scopes}}


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_client_address_ignores_forwarded_for_without_trusted_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert client_address(request) == "10.0.0.7"
    settings.REST_FRAMEWORK = {**api_settings.user_settings, "NUM_PROXIES": 1}
    # One proxy: the entry it appended (the last) is the client; the forged one is not.
    forged = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_address(forged) == "203.0.113.9"


@override_settings(REST_FRAMEWORK=rates(anon="2/min"))
def test_forged_forwarded_for_does_not_reset_the_anonymous_api_throttle():
    statuses = [
        Client().get("/api/styles/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(4)
    ]

    assert statuses == [200, 200, 429, 429]


@override_settings(REST_FRAMEWORK={**rates(anon="2/min"), "NUM_PROXIES": 1})
def test_behind_one_proxy_the_throttle_counts_the_address_the_proxy_saw():
    def call(forged: str, real: str) -> int:
        return Client().get("/api/styles/", HTTP_X_FORWARDED_FOR=f"{forged}, {real}").status_code

    statuses = [call(f"6.6.6.{n}", "203.0.113.9") for n in range(3)]

    assert statuses == [200, 200, 429]
    assert call("6.6.6.6", "203.0.113.10") == 200  # another client behind the proxy


@override_settings(REST_FRAMEWORK=rates(stylerecs_events="2/min"))
def test_forged_forwarded_for_does_not_reset_the_events_throttle(make_product):
    product = make_product()

    statuses = [
        Client()
        .post(
            "/events/",
            {"product": product.pk, "kind": "like"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
            HTTP_ACCEPT="application/json",
        )
        .status_code
        for n in range(4)
    ]

    assert statuses == [200, 200, 429, 429]
    assert Interaction.objects.count() == 2


@override_settings(REST_FRAMEWORK=rates(stylerecs_login="3/min"))
def test_token_endpoint_is_throttled_per_address_whatever_the_username():
    statuses = [
        Client().post("/api/auth/token/", {"username": f"user{n}", "password": "guess"}).status_code
        for n in range(5)
    ]

    assert statuses == [400, 400, 400, 429, 429]


def test_password_guessing_on_the_token_endpoint_gets_locked_out(settings):
    User.objects.create_user("ada", password=PASSWORD)
    guesses = [f"guess-{n}" for n in range(settings.AXES_FAILURE_LIMIT + 2)]

    statuses = [
        Client().post("/api/auth/token/", {"username": "ada", "password": g}).status_code
        for g in guesses
    ]
    right_password = Client().post("/api/auth/token/", {"username": "ada", "password": PASSWORD})
    elsewhere = Client(REMOTE_ADDR="192.0.2.44").post(
        "/api/auth/token/", {"username": "ada", "password": PASSWORD}
    )

    limit = settings.AXES_FAILURE_LIMIT
    # Wrong passwords until the limit-th failure, which locks the login out at once.
    assert statuses[: limit - 1] == [400] * (limit - 1)
    assert statuses[limit - 1 :] == [429, 429, 429]
    assert right_password.status_code == 429  # locked: even the right password
    assert "Too many failed logins" in right_password.json()["detail"]
    assert elsewhere.status_code == 200  # the lockout is of this address, not the account


def test_password_guessing_on_the_login_form_gets_locked_out(settings):
    User.objects.create_user("ada", password=PASSWORD)
    client = Client()

    statuses = [
        client.post("/accounts/login/", {"username": "ada", "password": f"guess-{n}"}).status_code
        for n in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    right_password = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})

    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert statuses[limit - 1 :] == [429, 429]
    assert right_password.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_right_password_logs_in_without_a_request_too():
    # Client.login() authenticates without a request; the lockout backend lets it by.
    User.objects.create_user("ada", password=PASSWORD)

    assert Client().login(username="ada", password=PASSWORD)


@pytest.fixture
def hidden_variant(make_product, make_style, make_variant):
    product = make_product()
    style = make_style("retired")
    variant = make_variant(product, style)
    style.is_active = False
    style.save(update_fields=["is_active"])
    return variant


def test_api_refuses_a_hidden_styles_variant_like_an_unknown_id(hidden_variant):
    def post(variant_id: int):
        body = {"product": hidden_variant.product_id, "kind": "like", "variant": variant_id}
        return Client().post(
            "/api/interactions/", json.dumps(body), content_type="application/json"
        )

    hidden, unknown = post(hidden_variant.pk), post(999_999)

    assert hidden.status_code == unknown.status_code == 400
    message = hidden.json()["variant"][0]
    assert message == unknown.json()["variant"][0].replace("999999", str(hidden_variant.pk))
    assert not Interaction.objects.exists()


def test_events_refuse_a_hidden_styles_variant_like_an_unknown_id(hidden_variant):
    def post(variant_id: int):
        return Client().post(
            "/events/",
            {"product": hidden_variant.product_id, "kind": "like", "variant": variant_id},
            HTTP_ACCEPT="application/json",
        )

    hidden, unknown = post(hidden_variant.pk), post(999_999)

    assert hidden.status_code == unknown.status_code == 400
    assert hidden.json()["errors"] == unknown.json()["errors"]
    assert not Interaction.objects.exists()


def test_browsable_api_is_off_without_debug():
    response = Client().get("/api/styles/", HTTP_ACCEPT="text/html,*/*;q=0.8")

    assert response["Content-Type"] == "application/json"


SHOW = (
    "from django.conf import settings; "
    "print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None)); "
    "print(settings.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES']); "
    "print(settings.REST_FRAMEWORK['NUM_PROXIES'])"
)
PRODUCTION = {"SECRET_KEY": "x7!" + "q" * 60 + "Zp#4", "ALLOWED_HOSTS": "shop.example.com"}


def test_production_settings_trust_no_proxy_header_unless_told(tmp_path):
    default = manage(
        "shell", "--no-imports", "-c", SHOW, env_overrides=PRODUCTION, tmp_path=tmp_path
    )
    proxied = manage(
        "shell",
        "--no-imports",
        "-c",
        SHOW,
        env_overrides={**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "1", "TRUSTED_PROXY_COUNT": "2"},
        tmp_path=tmp_path,
    )
    debug = manage(
        "shell", "--no-imports", "-c", SHOW, env_overrides={"DEBUG": "1"}, tmp_path=tmp_path
    )

    assert default.returncode == 0, default.stderr
    assert default.stdout.splitlines() == ["None", "['rest_framework.renderers.JSONRenderer']", "0"]
    assert proxied.stdout.splitlines()[0] == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert proxied.stdout.splitlines()[2] == "2"
    assert "BrowsableAPIRenderer" in debug.stdout.splitlines()[1]
