"""A mutation fuzzer over every path an uploaded image takes.

Small valid images in every allowed format are mutated by hypothesis (bytes flipped,
inserted or deleted, the file cut short, header fields overwritten with huge values)
and fed to:

- the worker's decoder, ``stylerecs.engine.images.decode_image`` (in process, many
  examples) and ``decode_image_isolated`` (the child process the workers use);
- the admin's style form (reference image) and product form (photo inline), posted by
  a superuser through the real admin views;
- the variant pipeline's worker side (``variants_process``), for product photos that
  the storefront's host accepted without our validation.

Every input must give an RGB image or an ``ImageError``; a form error or a saved row
whose file decodes; a ready variant or a failed one with a reason of its own. Never a
500, another exception, a crash of the process or a hang (the isolated decoder has a
timeout). The seed is tests/fuzz/conftest.py's.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import given, seed
from hypothesis import strategies as st
from PIL import Image

from stylerecs.engine.images import ImageError, ImageLimits, decode_image, decode_image_isolated
from tests.conftest import admin_style_form

from .conftest import EXAMPLES, FUZZ_SETTINGS, SEED

# Pillow warns about the corrupt files it is fed on purpose (tags past the end, bad EXIF).
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:PIL")]

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
# Small limits keep every decode of a header claiming a huge size fast.
LIMITS = ImageLimits(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000)
STYLERECS_LIMITS = {"MAX_IMAGE_BYTES": LIMITS.max_bytes, "MAX_IMAGE_PIXELS": LIMITS.max_pixels}


def _seed_image(fmt: str) -> bytes:
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


SEEDS = {fmt: _seed_image(fmt) for fmt in FORMATS}


@st.composite
def mutated_images(draw) -> bytes:
    """A valid small image of a random format, then one to four random mutations."""
    data = bytearray(SEEDS[draw(st.sampled_from(FORMATS))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "huge", "zero"]))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "huge":  # a width, height or length field set to a huge value
            data[at : at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff"]))
        elif kind == "zero":
            data[at : at + 4] = b"\x00\x00\x00\x00"
    return bytes(data)


def _decodes(data: bytes) -> bool:
    try:
        image = decode_image(data, limits=LIMITS, max_side=128)
    except ImageError:
        return False
    assert image.mode == "RGB" and image.width > 0 and image.height > 0
    return True


@seed(SEED)
@FUZZ_SETTINGS.__class__(FUZZ_SETTINGS, max_examples=EXAMPLES * 25)
@given(data=mutated_images())
def test_worker_decode_gives_an_image_or_an_image_error(data):
    _decodes(data)  # anything else than ImageError propagates and fails


@pytest.mark.slow
@seed(SEED)
@FUZZ_SETTINGS.__class__(FUZZ_SETTINGS, max_examples=EXAMPLES * 2)
@given(data=mutated_images())
def test_isolated_decode_never_crashes_or_hangs_the_worker(data):
    try:
        image = decode_image_isolated(data, limits=LIMITS, max_side=128, timeout=30)
    except ImageError as exc:
        assert str(exc)
    else:
        assert image.mode == "RGB"


_slugs = itertools.count()


@pytest.fixture
def admin_client(db, settings):
    settings.STYLERECS = {**settings.STYLERECS, **STYLERECS_LIMITS}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def _saved_or_form_error(response, field_error: str) -> bool:
    """True if the admin saved (302); else the form must be shown again with an error."""
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        return True
    assert field_error in response.content.decode()
    return False


@pytest.mark.slow
def test_style_admin_refuses_or_saves_a_decodable_reference(admin_client):
    from stylerecs.models import Style

    @seed(SEED)
    @FUZZ_SETTINGS
    @given(data=mutated_images())
    def post(data):
        slug = f"fuzz-{next(_slugs)}"
        response = admin_client.post(
            "/admin/stylerecs/style/add/",
            admin_style_form(name=slug, slug=slug, reference_image=_upload(data)),
        )
        if _saved_or_form_error(response, "errorlist"):
            with Style.objects.get(slug=slug).reference_image.open("rb") as saved:
                assert _decodes(saved.read())
        else:
            assert not Style.objects.filter(slug=slug).exists()

    post()


@pytest.mark.slow
def test_product_admin_refuses_or_saves_a_decodable_photo(admin_client):
    from shop.models import Category, Product

    category = Category.objects.create(name="Prints", slug="prints")

    @seed(SEED)
    @FUZZ_SETTINGS
    @given(data=mutated_images())
    def post(data):
        slug = f"fuzz-{next(_slugs)}"
        response = admin_client.post(
            "/admin/shop/product/add/",
            {
                "title": slug,
                "slug": slug,
                "description": "",
                "price": "9.50",
                "available": "on",
                "category": category.pk,
                "images-TOTAL_FORMS": "1",
                "images-INITIAL_FORMS": "0",
                "images-MIN_NUM_FORMS": "0",
                "images-MAX_NUM_FORMS": "1000",
                "images-0-image": _upload(data),
                "images-0-alt": "",
                "images-0-position": "0",
            },
        )
        if _saved_or_form_error(response, "errorlist"):
            image = Product.objects.get(slug=slug).primary_image
            with image.image.open("rb") as saved:
                assert _decodes(saved.read())
        else:
            assert not Product.objects.filter(slug=slug).exists()

    post()


@pytest.mark.slow
def test_worker_makes_a_variant_or_fails_it_with_a_reason(db, settings, make_product, make_style):
    # Hosts may store photos without our validation (imports, other forms): whatever
    # bytes a product photo holds, the worker's side of the pipeline must cope.
    from stylerecs.models import StylizedVariant, VariantStatus
    from stylerecs.services.variant_processing import variants_process
    from stylerecs.services.variants import variants_request

    settings.STYLERECS = {**settings.STYLERECS, **STYLERECS_LIMITS, "VARIANT_MAX_SIDE": 128}
    style = make_style("fuzz")

    @seed(SEED)
    @FUZZ_SETTINGS.__class__(FUZZ_SETTINGS, max_examples=max(4, EXAMPLES // 2))
    @given(data=mutated_images())
    def run(data):
        product = make_product(photo=data)
        variants_request(product_ids=[product.pk], style_ids=[style.pk])
        ids = list(StylizedVariant.objects.filter(product=product).values_list("pk", flat=True))
        assert ids  # the photo went into the pipeline
        variants_process(variant_ids=ids, token=f"fuzz-{next(_slugs)}")
        for variant in StylizedVariant.objects.filter(pk__in=ids):
            assert variant.status in (VariantStatus.READY, VariantStatus.FAILED), variant.status
            if variant.status == VariantStatus.FAILED:
                assert variant.error and not variant.error.startswith("Unexpected error")
            else:
                with variant.image.open("rb") as made:
                    assert _decodes(made.read())

    run()


def test_the_fuzzer_makes_both_good_and_bad_images():
    # Guards the fuzzer itself: unmutated seeds decode, a cut-short file does not.
    assert all(_decodes(data) for data in SEEDS.values())
    assert not _decodes(SEEDS["PNG"][:40])
    assert isinstance(ContentFile(b"").size, int)
