"""The storefront: cart and checkout events, likes without and with JavaScript, the
style quiz, "my style", privacy controls, throttling, the For you page, the catalogue's
"for you" sort and style filter, and product pages that lead with the shopper's style.

Covers stylerecs/views.py, stylerecs/templatetags, shop/views.py and shop/cart.py.
"""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.settings import api_settings

from stylerecs.models import (
    Interaction,
    ProductStyleProfile,
    Recommendation,
    ShopperSettings,
    StylePreference,
)
from stylerecs.services.preferences import personalisation_enabled, preferences_set
from stylerecs.shoppers import Shopper

pytestmark = [pytest.mark.django_db]

EVENT_URL = reverse("stylerecs:event")


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    # Throttle counters and the popular-products cache: each test starts with none.
    cache.clear()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    cache.clear()


@pytest.fixture
def catalogue(make_product, make_style, make_variant):
    """Three products, two styles; the first two products are shown in both styles."""
    products = [
        make_product(title="Chelsea print"),
        make_product(title="Coffee print"),
        make_product(title="Rocket print"),
    ]
    noir, vintage = make_style("noir"), make_style("vintage", source="astronaut")
    variants = {(p.pk, s.slug): make_variant(p, s) for p in products[:2] for s in (noir, vintage)}
    return {"products": products, "noir": noir, "vintage": vintage, "variants": variants}


def anon_id(client: Client) -> str:
    return client.session["stylerecs_anon_id"]


def events(**filters) -> list[tuple]:
    return list(
        Interaction.objects.filter(**filters).order_by("pk").values_list("product_id", "kind")
    )


# --- cart and checkout --------------------------------------------------------------


def test_product_page_records_a_view(catalogue):
    client = Client()
    product = catalogue["products"][0]

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert events(session_key=anon_id(client)) == [(product.pk, "view")]


def test_add_to_cart_records_the_event_and_shows_the_cart(catalogue):
    client = Client()
    product = catalogue["products"][1]

    response = client.post(reverse("shop:cart_add", args=[product.pk]), {"quantity": "2"})
    cart = client.get(reverse("shop:cart")).content.decode()

    assert response.status_code == 302 and response.url == reverse("shop:cart")
    assert events(session_key=anon_id(client)) == [(product.pk, "add_to_cart")]
    assert "Coffee print" in cart and "$20.00" in cart
    assert re.search(r'class="count"[^>]*>2<', cart)  # the header counts items


def test_sold_out_products_cannot_be_added(catalogue):
    product = catalogue["products"][0]
    product.available = False
    product.save()
    client = Client()

    response = client.post(reverse("shop:cart_add", args=[product.pk]), follow=True)

    assert "is sold out" in response.content.decode()
    assert not Interaction.objects.filter(kind="add_to_cart").exists()


def test_checkout_records_one_purchase_per_product_and_empties_the_cart(catalogue):
    client = Client()
    first, second, _ = catalogue["products"]
    client.post(reverse("shop:cart_add", args=[first.pk]))
    client.post(reverse("shop:cart_add", args=[second.pk]), {"quantity": "3"})

    review = client.get(reverse("shop:checkout"))
    placed = client.post(reverse("shop:checkout"))
    thanks = client.get(placed.url)
    again = client.get(placed.url)  # reloading the confirmation orders nothing more

    assert "Place order" in review.content.decode()
    assert placed.status_code == 302 and placed.url == reverse("shop:order_placed")
    assert "Thank you for your order" in thanks.content.decode()
    assert "$40.00" in thanks.content.decode()
    assert again.status_code == 200
    purchases = events(session_key=anon_id(client), kind="purchase")
    assert sorted(purchases) == sorted([(first.pk, "purchase"), (second.pk, "purchase")])
    assert "Your cart is empty" in client.get(reverse("shop:cart")).content.decode()
    assert client.get(reverse("shop:checkout")).status_code == 302  # nothing to check out


def test_signed_in_shopper_events_belong_to_the_user(catalogue):
    user = User.objects.create_user("carol", password="pw")
    client = Client()
    client.force_login(user)
    product = catalogue["products"][0]

    client.post(reverse("shop:cart_add", args=[product.pk]))
    client.post(reverse("shop:checkout"))

    assert events(user=user) == [(product.pk, "add_to_cart"), (product.pk, "purchase")]


# --- likes and dislikes ---------------------------------------------------------------


def test_like_without_javascript_posts_and_redirects_back(catalogue):
    client = Client()
    product = catalogue["products"][0]
    page = client.get(product.get_absolute_url()).content.decode()
    assert f'action="{EVENT_URL}"' in page and 'value="like"' in page

    response = client.post(
        EVENT_URL, {"product": product.pk, "kind": "like", "next": product.get_absolute_url()}
    )
    back = client.get(response.url).content.decode()

    assert response.status_code == 302 and response.url == product.get_absolute_url()
    assert events(session_key=anon_id(client), kind="like") == [(product.pk, "like")]
    assert "show you more like this" in back


def test_dislike_with_fetch_gets_json(catalogue):
    client = Client()
    product = catalogue["products"][1]
    variant = catalogue["variants"][(product.pk, "noir")]

    response = client.post(
        EVENT_URL,
        {"product": product.pk, "kind": "dislike", "variant": variant.pk},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "kind": "dislike",
        "product": product.pk,
        "message": "Got it: fewer like this from now on.",
    }
    row = Interaction.objects.get(kind="dislike")
    assert (row.product_id, row.variant_id) == (product.pk, variant.pk)


def test_events_refuse_other_kinds_and_foreign_redirects(catalogue):
    client = Client()
    product = catalogue["products"][0]

    purchase = client.post(
        EVENT_URL, {"product": product.pk, "kind": "purchase"}, HTTP_ACCEPT="application/json"
    )
    offsite = client.post(
        EVENT_URL, {"product": product.pk, "kind": "like", "next": "https://evil.example/"}
    )

    assert purchase.status_code == 400 and "kind" in purchase.json()["errors"]
    assert offsite.status_code == 302 and offsite.url == product.get_absolute_url()
    assert events() == [(product.pk, "like")]


@override_settings(
    REST_FRAMEWORK={
        **api_settings.user_settings,
        "DEFAULT_THROTTLE_RATES": {
            "anon": "1000/min",
            "user": "1000/min",
            "stylerecs_events": "2/min",
        },
    }
)
def test_too_many_events_get_a_clear_429(catalogue):
    client = Client()
    product = catalogue["products"][0]
    body = {"product": product.pk, "kind": "like"}

    allowed = [client.post(EVENT_URL, body).status_code for _ in range(2)]
    page = client.post(EVENT_URL, body)
    fetched = client.post(EVENT_URL, body, HTTP_ACCEPT="application/json")

    assert allowed == [302, 302]
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert "Slow down" in page.content.decode()
    assert fetched.status_code == 429 and "try again" in fetched.json()["detail"]
    assert len(events(kind="like")) == 2


# --- quiz, my style, privacy ---------------------------------------------------------


def test_quiz_shows_products_in_several_styles_and_sets_preferences(catalogue):
    client = Client()
    page = client.get(reverse("stylerecs:quiz")).content.decode()
    first, second = catalogue["products"][:2]
    variants = catalogue["variants"]
    for key in variants:
        assert f'value="{variants[key].pk}"' in page
    assert page.count('data-style="noir"') == 2 and page.count('data-style="vintage"') == 2

    response = client.post(
        reverse("stylerecs:quiz"),
        {
            f"pick_{first.pk}": variants[(first.pk, "noir")].pk,
            f"pick_{second.pk}": variants[(second.pk, "noir")].pk,
        },
    )

    assert response.status_code == 302 and response.url == reverse("stylerecs:for_you")
    prefs = StylePreference.objects.filter(session_key=anon_id(client))
    assert dict(prefs.values_list("style__slug", "weight")) == {"noir": 1.0}
    assert sorted(events(kind="quiz_pick")) == sorted(
        [(first.pk, "quiz_pick"), (second.pk, "quiz_pick")]
    )
    assert "Your style: Noir" in client.get(response.url).content.decode()


def test_quiz_needs_a_pick_and_ignores_variants_it_did_not_show(catalogue, make_product):
    client = Client()
    first = catalogue["products"][0]

    skipped = client.post(reverse("stylerecs:quiz"), {f"pick_{first.pk}": ""})
    forged = client.post(reverse("stylerecs:quiz"), {f"pick_{first.pk}": "999999"})

    assert skipped.status_code == 200 and "Pick at least one" in skipped.content.decode()
    assert forged.status_code == 200
    assert not StylePreference.objects.exists()


def test_quiz_without_styled_products_says_so(db):
    page = Client().get(reverse("stylerecs:quiz")).content.decode()

    assert "needs products shown in at least two styles" in page


def test_my_style_edits_explicit_preferences(catalogue):
    client = Client()
    noir, vintage = catalogue["noir"], catalogue["vintage"]

    page = client.get(reverse("stylerecs:my_style")).content.decode()
    saved = client.post(
        reverse("stylerecs:my_style"), {f"style_{noir.pk}": "0.7", f"style_{vintage.pk}": "-0.4"}
    )
    cleared = client.post(
        reverse("stylerecs:my_style"), {f"style_{noir.pk}": "0", f"style_{vintage.pk}": "-0.4"}
    )
    invalid = client.post(
        reverse("stylerecs:my_style"), {f"style_{noir.pk}": "5", f"style_{vintage.pk}": "0"}
    )

    assert page.count('type="range"') == 2
    assert saved.status_code == 302 and cleared.status_code == 302
    prefs = StylePreference.objects.filter(session_key=anon_id(client))
    assert dict(prefs.values_list("style__slug", "weight")) == {"vintage": -0.4}
    assert invalid.status_code == 200 and "check the values" in invalid.content.decode()
    shown = client.get(reverse("stylerecs:my_style")).content.decode()
    assert re.search(rf'name="style_{vintage.pk}"[^>]*value="-0.4"', shown)


def test_privacy_export_toggle_and_delete(catalogue):
    client = Client()
    product = catalogue["products"][0]
    client.post(EVENT_URL, {"product": product.pk, "kind": "like"})
    client.post(
        reverse("stylerecs:my_style"),
        {f"style_{catalogue['noir'].pk}": "0.5", f"style_{catalogue['vintage'].pk}": "0"},
    )
    shopper = Shopper.anonymous(anon_id(client))

    page = client.get(reverse("stylerecs:my_data")).content.decode()
    export = client.get(reverse("stylerecs:my_data_export"))
    off = client.post(reverse("stylerecs:personalisation"), {"enabled": "0"})
    enabled_after_off = personalisation_enabled(shopper=shopper)
    off_page = client.get(reverse("stylerecs:my_data")).content.decode()
    unconfirmed = client.post(reverse("stylerecs:my_data_delete"))
    still_there = Interaction.objects.filter(session_key=shopper.anon_id).count()
    deleted = client.post(reverse("stylerecs:my_data_delete"), {"confirm": "yes"}, follow=True)

    assert "Turn personalisation off" in page
    assert export["Content-Disposition"].startswith('attachment; filename="my-style-data-')
    data = json.loads(export.content)
    assert [(i["product"], i["kind"]) for i in data["interactions"]] == [(product.pk, "like")]
    assert [p["style"] for p in data["preferences"]] == ["noir"]
    assert off.status_code == 302 and not enabled_after_off
    assert "Turn personalisation on" in off_page
    assert unconfirmed.status_code == 302 and still_there == 1
    assert "records about you" in deleted.content.decode()
    assert not Interaction.objects.filter(session_key=shopper.anon_id).exists()
    assert not StylePreference.objects.filter(session_key=shopper.anon_id).exists()
    assert not ShopperSettings.objects.filter(session_key=shopper.anon_id).exists()


# --- For you, catalogue, product pages ---------------------------------------------------


def recommend(user, products, reason="Because you like Noir"):
    now = timezone.now()
    Recommendation.objects.bulk_create(
        Recommendation(
            user=user, product=p, score=1 - i / 10, rank=i + 1, reason=reason, computed_at=now
        )
        for i, p in enumerate(products)
    )


def test_for_you_shows_stored_recommendations_with_reasons_in_the_top_style(catalogue):
    user = User.objects.create_user("dora", password="pw")
    first, second, third = catalogue["products"]
    recommend(user, [second, third, first])
    noir = catalogue["noir"]
    preferences_set(shopper=Shopper.for_user(user), weights={noir.pk: 0.9})
    ProductStyleProfile.objects.create(product=second, affinities={str(noir.pk): 0.6})
    client = Client()
    client.force_login(user)

    page = client.get(reverse("stylerecs:for_you")).content.decode()

    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles == ["Coffee print", "Rocket print", "Chelsea print"]
    assert page.count("Because you like Noir") == 3
    assert "your favourite style, <strong>Noir</strong>" in page
    noir_image = catalogue["variants"][(second.pk, "noir")].image.url
    assert noir_image in page  # the card shows the product in the shopper's style


def test_for_you_shows_the_own_photo_where_the_shoppers_style_does_not_suit_the_product(
    catalogue,
):
    user = User.objects.create_user("ivy", password="pw")
    first, second, _ = catalogue["products"]
    recommend(user, [first, second])
    noir = catalogue["noir"]
    preferences_set(shopper=Shopper.for_user(user), weights={noir.pk: 0.9})
    # Both have a Noir variant; Noir suits the coffee print, it makes the cat muddy.
    ProductStyleProfile.objects.create(product=first, affinities={str(noir.pk): -0.4})
    ProductStyleProfile.objects.create(product=second, affinities={str(noir.pk): 0.5})
    client = Client()
    client.force_login(user)

    page = client.get(reverse("stylerecs:for_you")).content.decode()
    grid = page.split('<div class="sr-grid"')[1]
    cards = {alt: src for src, alt in re.findall(r'<img src="([^"]+)" alt="([^"]+)"', grid)}

    noir_coffee = catalogue["variants"][(second.pk, "noir")].image.url
    assert cards["Coffee print in the Noir style"] == noir_coffee
    assert cards["Chelsea print"] == first.primary_image.image.url
    assert catalogue["variants"][(first.pk, "noir")].image.url not in page

    # The floor is a setting: above the coffee print's affinity, no card is restyled.
    with override_settings(STYLERECS={**settings.STYLERECS, "FOR_YOU_STYLE_MIN_AFFINITY": 0.5}):
        strict = client.get(reverse("stylerecs:for_you")).content.decode()
    assert "in the Noir style" not in strict
    assert second.primary_image.image.url in strict


def test_for_you_falls_back_to_popular_products(catalogue):
    Interaction.objects.create(
        session_key="someone", product=catalogue["products"][2], kind="purchase"
    )

    page = Client().get(reverse("stylerecs:for_you")).content.decode()

    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles[0] == "Rocket print"  # bought, so popular
    reasons = re.findall(r'<p class="sr-reason">(.*?)</p>', page)
    # Only the product someone bought is called popular; the others are just new.
    assert reasons == ["Popular right now", "New in the shop", "New in the shop"]
    assert page.count('<span class="price">$10.00</span>') == 3  # the adapter's price text
    assert "don't know your style yet" in page and "Take the style quiz" in page


def test_for_you_of_a_shop_without_popularity_data_calls_nothing_popular(catalogue):
    page = Client().get(reverse("stylerecs:for_you")).content.decode()

    assert len(re.findall(r"<h2>(.*?)</h2>", page)) == 3
    assert "Popular right now" not in page.split('<div class="sr-grid"')[1]
    assert page.count("New in the shop") == 3


def test_for_you_refreshes_itself_until_the_new_recommendations_are_in(catalogue):
    user = User.objects.create_user("jo", password="pw")
    shopper = Shopper.for_user(user)
    client = Client()
    client.force_login(user)
    url = reverse("stylerecs:for_you")
    refresh = re.compile(r'<meta http-equiv="refresh" content="3;url=([^"]+)">')

    quiet = client.get(url).content.decode()
    assert not refresh.search(quiet)  # nothing told yet: nothing being computed

    preferences_set(shopper=shopper, weights={catalogue["noir"].pk: 0.8})  # as the quiz does
    waiting = client.get(url).content.decode()
    assert refresh.search(waiting).group(1) == f"{url}?waiting=1"
    assert "Updating your picks" in waiting
    assert refresh.search(client.get(url, {"waiting": "7"}).content.decode()).group(1) == (
        f"{url}?waiting=8"
    )
    assert refresh.search(client.get(url, {"waiting": "junk"}).content.decode())

    # A worker that never answers: the page stops reloading after FOR_YOU_REFRESH_MAX.
    given_up = client.get(url, {"waiting": "20"}).content.decode()
    assert not refresh.search(given_up)
    assert "still being worked out" in given_up

    recommend(user, [catalogue["products"][1]])  # the worker stored the new set
    arrived = client.get(url, {"waiting": "3"}).content.decode()
    assert not refresh.search(arrived)
    assert "Updating your picks" not in arrived
    assert re.findall(r"<h2>(.*?)</h2>", arrived) == ["Coffee print"]


def test_catalogue_sorts_for_you_and_filters_by_style(catalogue):
    user = User.objects.create_user("erin", password="pw")
    first, second, third = catalogue["products"]
    recommend(user, [third, second])
    noir = catalogue["noir"]
    for product, affinity in ((first, 0.2), (second, 0.9), (third, -0.3)):
        ProductStyleProfile.objects.create(product=product, affinities={str(noir.pk): affinity})
    client = Client()
    client.force_login(user)

    for_you = client.get(reverse("shop:catalogue"), {"sort": "for_you"}).content.decode()
    styled = client.get(reverse("shop:catalogue"), {"style": "noir"}).content.decode()

    assert re.findall(r"<h2>(.*?)</h2>", for_you) == [
        "Rocket print",
        "Coffee print",
        "Chelsea print",
    ]
    assert re.findall(r"<h2>(.*?)</h2>", styled) == ["Coffee print", "Chelsea print"]
    assert catalogue["variants"][(second.pk, "noir")].image.url in styled
    assert Client().get(reverse("shop:catalogue"), {"style": "nope"}).status_code == 404


def test_product_page_leads_with_the_shoppers_top_style(catalogue):
    product = catalogue["products"][0]
    variants = catalogue["variants"]
    user = User.objects.create_user("fay", password="pw")
    preferences_set(shopper=Shopper.for_user(user), weights={catalogue["vintage"].pk: 0.8})
    client = Client()

    def checked(page: str) -> str:
        """The panel the page opens on: "original" or the slug of the variant's style."""
        found = re.findall(r'id="sr-\d+-(original|v\d+)"[^>]*checked', page)
        assert len(found) == 1, found  # exactly one radio is chosen
        if found[0] == "original":
            return "original"
        return next(slug for (pk, slug), v in variants.items() if f"v{v.pk}" == found[0])

    anonymous = client.get(product.get_absolute_url()).content.decode()
    client.force_login(user)
    signed_in = client.get(product.get_absolute_url()).content.decode()

    # A first visit (no style known) opens on the product's own photo, the styles
    # offered beside it; the alphabetically first style ("noir") does not lead.
    assert checked(anonymous) == "original"
    assert "In the Noir style" in anonymous and "In the Vintage style" in anonymous
    assert checked(signed_in) == "vintage"


def test_product_page_of_a_shopper_whose_style_has_no_variant_opens_on_the_original(
    catalogue, make_style
):
    product = catalogue["products"][0]
    user = User.objects.create_user("gil", password="pw")
    pastel = make_style("pastel")  # liked, but this product has no variant in it
    preferences_set(shopper=Shopper.for_user(user), weights={pastel.pk: 0.9})
    client = Client()
    client.force_login(user)

    page = client.get(product.get_absolute_url()).content.decode()

    assert re.findall(r'id="sr-\d+-(original|v\d+)"[^>]*checked', page) == ["original"]


def test_navigation_links_every_storefront_page(db):
    page = Client().get(reverse("shop:catalogue")).content.decode()

    for name in ("stylerecs:for_you", "stylerecs:quiz", "stylerecs:my_style", "stylerecs:my_data"):
        assert f'href="{reverse(name)}"' in page
    assert f'href="{reverse("shop:cart")}"' in page
    for name in ("stylerecs:for_you", "stylerecs:quiz", "stylerecs:my_style", "stylerecs:my_data"):
        assert Client().get(reverse(name)).status_code == 200


def test_signing_in_keeps_the_cart_and_the_anonymous_history(catalogue):
    User.objects.create_user("gus", password="pw")
    client = Client()
    product = catalogue["products"][0]
    client.post(EVENT_URL, {"product": product.pk, "kind": "like"})
    client.post(reverse("shop:cart_add", args=[product.pk]))

    form = client.get(reverse("login")).content.decode()
    signed_in = client.post(reverse("login"), {"username": "gus", "password": "pw"})
    cart = client.get(reverse("shop:cart")).content.decode()

    assert 'name="username"' in form and "Sign in" in form
    assert signed_in.status_code == 302 and signed_in.url == reverse("stylerecs:for_you")
    assert "Chelsea print" in cart  # the session cart survives the login
    user = User.objects.get(username="gus")
    assert events(user=user) == [(product.pk, "like"), (product.pk, "add_to_cart")]
    assert not Interaction.objects.filter(user=None).exists()
