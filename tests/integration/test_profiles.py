"""Product style profiles (stylerecs/services/profiles.py) and the reads built on them.

Real photos are embedded by the real engine; nothing is mocked.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile

from stylerecs import selectors
from stylerecs.models import ProductStyleProfile, Style
from stylerecs.services.profiles import (
    embedding_model_version,
    encoder_weights,
    profiles_refresh,
    profiles_schedule,
)
from stylerecs.services.styles import style_save

from .conftest import wait_for
from .looks import crop_jpeg, make_looks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_process_decoding(settings):
    # Decoding in a child process per image is what workers do; here it only costs time.
    # The weight-free embeddings: fast, and the same whatever weights are installed.
    settings.STYLERECS = {
        **settings.STYLERECS,
        "ISOLATE_DECODING": False,
        "EMBEDDING_WEIGHTS": None,
    }


def test_refresh_embeds_every_product_and_style_with_affinities(make_product, make_style):
    looks = make_looks(make_product, looks=("coffee", "camera"))
    noir = make_style("noir", source="camera")
    ember = make_style("ember", source="coffee")

    assert profiles_refresh() == 8
    version = embedding_model_version()
    assert version == "classicstats-v1"  # no encoder weights configured
    noir.refresh_from_db()
    assert noir.embedding_is_current and noir.vector_model == version
    profiles = {p.product_id: p for p in ProductStyleProfile.objects.all()}
    assert len(profiles) == 8
    for product in looks["camera"]:
        profile = profiles[product.pk]
        assert profile.vector_model == version and profile.vector_dim == 86
        assert set(profile.affinities) == {str(noir.pk), str(ember.pk)}
        # A crop of the camera photo looks more like Noir (the camera photo) than Ember.
        assert profile.affinities[str(noir.pk)] > profile.affinities[str(ember.pk)]


def test_second_refresh_embeds_nothing_until_the_photo_or_model_changes(make_product, make_style):
    make_style("noir", source="camera")
    products = make_looks(make_product, looks=("coffee",))["coffee"]
    assert profiles_refresh() == 4
    assert profiles_refresh() == 0

    image = products[0].images.get()
    image.image.save("new.jpg", ContentFile(crop_jpeg("rocket", (0, 0, 1, 1))))
    ProductStyleProfile.objects.filter(product=products[1]).update(vector_model="older-model")
    assert profiles_refresh(product_ids=[products[0].pk, products[1].pk, products[2].pk]) == 2
    assert set(ProductStyleProfile.objects.values_list("vector_model", flat=True)) == {
        "classicstats-v1"
    }


def test_product_without_photo_loses_its_profile(make_product, make_style):
    make_style("noir", source="camera")
    product = make_product(crop_jpeg("camera", (0, 0, 1, 1)))
    profiles_refresh()
    product.images.all().delete()
    profiles_refresh(product_ids=[product.pk])
    assert not ProductStyleProfile.objects.filter(product=product).exists()


def test_changed_style_reference_is_embedded_again(make_product, make_style):
    make_product(crop_jpeg("coffee", (0, 0, 1, 1)))
    style = make_style("noir", source="camera")
    profiles_refresh()
    style.refresh_from_db()
    before = bytes(style.vector)
    style.reference_image.save("moon.jpg", ContentFile(crop_jpeg("moon", (0, 0, 1, 1))), save=False)
    style_save(style=style)
    assert not Style.objects.get(pk=style.pk).embedding_is_current
    assert profiles_refresh(product_ids=[]) == 0  # styles and affinities only
    style.refresh_from_db()
    assert style.embedding_is_current and bytes(style.vector) != before


def test_products_for_style_ranks_by_affinity(make_product, make_style):
    looks = make_looks(make_product, looks=("coffee", "camera", "rocket"))
    noir = make_style("noir", source="camera")
    make_style("ember", source="coffee")
    profiles_refresh()
    ids = selectors.products_for_style(style=noir)
    assert ids and set(ids[:4]) == {p.pk for p in looks["camera"]}
    assert selectors.products_for_style(style=noir, limit=2) == ids[:2]
    affinities = [
        ProductStyleProfile.objects.get(product_id=pk).affinities[str(noir.pk)] for pk in ids
    ]
    assert affinities == sorted(affinities, reverse=True) and min(affinities) > 0


def test_admin_shows_a_products_top_styles_and_style_embedding_status(
    admin_client, make_product, make_style
):
    product = make_product(crop_jpeg("camera", (0, 0, 1, 1)))
    make_product(crop_jpeg("coffee", (0, 0, 1, 1)))
    make_style("noir", source="camera")
    listing = admin_client.get("/admin/stylerecs/style/")
    assert "pending" in listing.content.decode()
    profiles_refresh()
    page = admin_client.get(f"/admin/shop/product/{product.pk}/change/").content.decode()
    assert "Top styles" in page and re.search(r"Noir [01]\.\d\d", page)
    listing = admin_client.get("/admin/stylerecs/style/").content.decode()
    assert "classicstats-v1 · 86-d" in listing


def test_encoder_is_the_installed_vgg_weights_or_the_statistics(settings, tmp_path):
    settings.STYLERECS = {**settings.STYLERECS, "WEIGHTS_DIR": str(tmp_path)}
    settings.STYLERECS = {**settings.STYLERECS, "EMBEDDING_WEIGHTS": "auto"}
    assert encoder_weights() is None  # nothing installed: colour/texture statistics
    (tmp_path / "vgg19-dcbb9e9d.pth").write_bytes(b"")
    assert encoder_weights() == str(tmp_path / "vgg19-dcbb9e9d.pth")
    (tmp_path / "vgg_normalised.pth").write_bytes(b"")
    assert encoder_weights() == str(tmp_path / "vgg_normalised.pth")  # AdaIN's first
    settings.STYLERECS = {**settings.STYLERECS, "EMBEDDING_WEIGHTS": "vgg19"}
    assert encoder_weights() == str(tmp_path / "vgg19-dcbb9e9d.pth")
    settings.STYLERECS = {**settings.STYLERECS, "EMBEDDING_WEIGHTS": None}
    assert encoder_weights() is None


@pytest.mark.django_db(transaction=True)
def test_worker_embeds_a_new_style_and_the_demo_seed_queues_profiles(
    celery_worker, make_product, make_style
):
    from workers.celery import app

    assert app.amqp.router.route({}, "stylerecs.tasks.refresh_profiles")["queue"].name == "gpu"
    product = make_product(crop_jpeg("camera", (0, 0, 1, 1)))
    style = make_style("noir", source="camera")  # saving it queues its embedding

    def embedded():
        style.refresh_from_db()
        return style.embedding_is_current

    wait_for(embedded, timeout=90, what="the worker to embed the style")
    assert not ProductStyleProfile.objects.filter(product=product).exists()  # styles only
    profiles_schedule()  # what seed_demo does: every product, on the worker
    wait_for(
        lambda: ProductStyleProfile.objects.filter(product=product).exists(),
        timeout=90,
        what="the product profile",
    )
