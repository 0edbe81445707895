"""What the admin shows: product titles (not ids) in names and search, alt text on every
thumbnail, no dead "Add another" link in the product's gallery, and a batch page whose
own fields get the same numbers as its live progress box.

Covers stylerecs/admin/ (display, products, variants, batches) and the models' names.
The browser side (the script, the page) is in tests/e2e/test_storefront_pages.py.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from stylerecs.models import GenerationBatch, ProductStyleProfile, VariantStatus
from stylerecs.services.batches import batches_refresh

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def boss(client):
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return user


@pytest.fixture
def gallery(make_product, make_style, make_variant):
    cat = make_product(title="Chelsea cat print")
    make_product(title="Rocket launch print")
    noir = make_style("noir")
    return {"product": cat, "style": noir, "variant": make_variant(cat, noir)}


def test_variant_and_profile_names_say_the_products_title(gallery):
    variant = gallery["variant"]
    profile = ProductStyleProfile.objects.create(product=gallery["product"])

    assert str(variant) == "Noir v1 of Chelsea cat print"
    assert str(profile) == "Style profile of Chelsea cat print"
    assert f"product {gallery['product'].pk}" not in str(variant)


def test_admin_finds_variants_by_the_products_title(client, boss, gallery, make_variant):
    make_variant(
        type(gallery["product"]).objects.get(title="Rocket launch print"), gallery["style"]
    )
    url = reverse("admin:stylerecs_stylizedvariant_changelist")

    found = client.get(url, {"q": "chelsea"}).content.decode()
    rocket = client.get(url, {"q": "rocket launch"}).content.decode()
    nothing = client.get(url, {"q": "submarine"}).content.decode()

    assert found.count('name="_selected_action"') == 1 and "Chelsea cat print" in found
    assert rocket.count('name="_selected_action"') == 1 and "Rocket launch print" in rocket
    assert 'name="_selected_action"' not in nothing


@pytest.mark.parametrize(
    "page",
    ["variant_list", "variant_change", "product_list", "product_change", "style_list"],
)
def test_every_admin_thumbnail_has_alt_text(client, boss, gallery, page):
    variant, product, style = gallery["variant"], gallery["product"], gallery["style"]
    url = {
        "variant_list": reverse("admin:stylerecs_stylizedvariant_changelist"),
        "variant_change": reverse("admin:stylerecs_stylizedvariant_change", args=[variant.pk]),
        "product_list": reverse("admin:shop_product_changelist"),
        "product_change": reverse("admin:shop_product_change", args=[product.pk]),
        "style_list": reverse("admin:stylerecs_style_changelist"),
    }[page]

    html = client.get(url).content.decode()
    # Our thumbnails (of uploads); the admin's own icons are decorative, alt="" by design.
    images = [tag for tag in re.findall(r"<img\b[^>]*>", html) if 'src="/media/' in tag]

    assert images, "the page shows thumbnails"
    for tag in images:
        alt = re.search(r'\balt="([^"]*)"', tag)
        assert alt and alt.group(1).strip(), f"no alt text: {tag}"
    if page.startswith("variant"):
        assert 'alt="Chelsea cat print in the Noir style"' in html
        assert 'alt="Chelsea cat print: original photo"' in html
    if page == "style_list":
        assert f'alt="{style.name}: reference image"' in html


def test_product_gallery_inline_offers_no_add_link(client, boss, gallery):
    html = client.get(
        reverse("admin:shop_product_change", args=[gallery["product"].pk])
    ).content.decode()

    # The admin's inline script adds "Add another" while TOTAL < MAX_NUM_FORMS.
    limits = dict(re.findall(r'name="([^"]+)-MAX_NUM_FORMS" value="(\d*)"', html))
    assert limits.pop("images") == "1000"  # the shop's own photo inline still adds photos
    assert len(limits) == 2 and set(limits.values()) == {"0"}, limits  # variants, profile
    assert "Noir v1 of Chelsea cat print" in html or "Chelsea cat print in the Noir style" in html


def test_batch_progress_gives_the_page_its_title_and_fields(client, boss, gallery):
    variant = gallery["variant"]
    variant.status = VariantStatus.PROCESSING
    variant.save(update_fields=["status"])
    batch = GenerationBatch.objects.create(total=1, started_at=timezone.now())
    batch.variants.add(variant)
    url = batch.get_progress_url()

    running = client.get(url).json()
    variant.status = VariantStatus.READY
    variant.save(update_fields=["status"])
    batches_refresh(batch_ids=[batch.pk])
    done = client.get(url).json()
    page = client.get(reverse("admin:stylerecs_generationbatch_change", args=[batch.pk]))

    assert running["title"] == f"Batch #{batch.pk} (0/1)"
    assert running["fields"]["ready"] == "0" and running["fields"]["finished_at"] == "-"
    assert done["finished"] and done["title"] == f"Batch #{batch.pk} (1/1)"
    assert done["fields"]["ready"] == "1" and done["fields"]["total"] == "1"
    # The same text the admin renders in the page's own field, so the two agree.
    finished = re.search(
        r'field-finished_at.*?<div class="readonly">(.*?)</div>', page.content.decode(), re.S
    )
    assert finished.group(1).strip() == done["fields"]["finished_at"] != "-"
