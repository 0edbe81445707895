"""Quality scores and product masks through the real pipeline, admin and API.

Covers stylerecs/services/quality.py and the quality/mask parts of
stylerecs/services/variant_processing.py, stylerecs/admin/{variants,masks,products}.py and the
staff variant API.
"""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageDraw

from stylerecs.models import ProductMask, StylizedVariant, VariantStatus
from stylerecs.services.variant_processing import variants_process
from stylerecs.services.variants import variants_request

from .conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def truth_mask(size=(160, 120)) -> np.ndarray:
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).ellipse((35, 20, 125, 100), fill=255)
    return np.asarray(img) > 127


def product_photo(*, plain: bool = True) -> tuple[bytes, np.ndarray]:
    """A textured 'product' (a crop of chelsea) on an off-white or a busy background."""
    from skimage import data

    mask = truth_mask()
    product = np.asarray(Image.fromarray(data.chelsea()).resize(mask.shape[::-1]))
    if plain:
        rng = np.random.default_rng(0)
        out = (np.full(product.shape, 235.0) + rng.normal(0, 2, product.shape)).astype(np.uint8)
    else:
        out = np.asarray(Image.fromarray(data.coffee()).resize(mask.shape[::-1])).copy()
    out[mask] = product[mask]
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, "PNG")
    return buffer.getvalue(), out


def read_image(field_file) -> np.ndarray:
    with default_storage.open(field_file.name) as fh:
        return np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"), np.float32) / 255


def inner(mask: np.ndarray, px: int = 4) -> np.ndarray:
    import cv2

    return cv2.erode(mask.astype(np.uint8), np.ones((2 * px + 1,) * 2, np.uint8)) > 0


def finished(batch):
    batch.refresh_from_db()
    return batch if batch.is_finished else None


def test_scores_are_stored_and_shown_in_admin_and_staff_api(
    celery_worker, make_product, make_style, admin_client
):
    product = make_product()
    style = make_style("brickwork", source="brick")
    assert style.method == "texture"  # the weight-free default without neural weights
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(batch), timeout=120, what="batch")
    variant = StylizedVariant.objects.get()
    assert variant.status == VariantStatus.READY, variant.error
    assert 0 < variant.content_fidelity <= 1 and -1 <= variant.style_strength <= 1
    assert set(variant.scores) == {
        "ssim",
        "edges",
        "fidelity",
        "style_distance",
        "style_gap_closed",
    }
    assert variant.scores["fidelity"] == variant.content_fidelity

    listing = admin_client.get(reverse("admin:stylerecs_stylizedvariant_changelist"))
    html = listing.content.decode()
    assert "Fidelity" in html and f"{variant.content_fidelity:.3f}" in html
    # Sortable: the column's header links to an ordering on it.
    columns = listing.context["cl"].list_display
    sorted_listing = admin_client.get(
        reverse("admin:stylerecs_stylizedvariant_changelist"),
        {"o": str(columns.index("fidelity"))},
    )
    assert sorted_listing.status_code == 200
    assert str(sorted_listing.context["cl"].get_ordering_field_columns())  # ordered by it

    api = admin_client.get(f"/api/variants/{variant.pk}/")
    assert api.status_code == 200
    body = api.json()
    assert body["content_fidelity"] == variant.content_fidelity
    assert body["scores"]["style_gap_closed"] == variant.style_strength
    shopper_view = admin_client.get(f"/api/products/{product.pk}/").json()
    assert "scores" not in str(shopper_view)  # shoppers' shape carries no scores


def test_low_fidelity_variant_is_held_for_review_instead_of_auto_approved(
    make_product, make_style, settings, monkeypatch
):
    """AUTO_APPROVE is on, but the strict style's variant stays in review with a reason.

    The worker's service runs in this process so that this test's settings apply to it;
    the enqueueing is switched off so the session's worker does not take the variants.
    """
    import stylerecs.services.variants as variants_service

    monkeypatch.setattr(variants_service, "variants_enqueue", lambda variant_ids: 0)
    product = make_product()
    strict = make_style("noir", source="camera", min_fidelity=0.99)
    lenient = make_style("vintage", source="coffee")
    settings.STYLERECS = {**settings.STYLERECS, "AUTO_APPROVE": True, "ISOLATE_DECODING": False}
    batch = variants_request(product_ids=[product.pk], style_ids=[strict.pk, lenient.pk])
    ids = list(batch.variants.values_list("pk", flat=True))
    counts = variants_process(variant_ids=ids, token=f"test-{uuid.uuid4()}")
    assert counts == {"ready": 2, "failed": 0}
    held = StylizedVariant.objects.get(style=strict)
    assert held.status == VariantStatus.READY and held.content_fidelity < 0.99
    assert "below the style's threshold" in held.review_reason
    approved = StylizedVariant.objects.get(style=lenient)
    assert approved.status == VariantStatus.APPROVED and approved.review_reason == ""


def test_low_fidelity_variant_is_rejected_when_the_style_says_so(
    celery_worker, make_product, make_style
):
    product = make_product()
    style = make_style("noir", source="camera", min_fidelity=0.99, low_fidelity_action="reject")
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(batch), timeout=120, what="batch")
    variant = StylizedVariant.objects.get()
    assert variant.status == VariantStatus.REJECTED and variant.review_reason


def test_masked_style_keeps_the_estimated_product_and_the_admin_shows_the_mask(
    celery_worker, make_product, make_style, admin_client
):
    data, original = product_photo(plain=True)
    product = make_product(data, ext="png")
    style = make_style("moss", source="grass", product_mode="keep")
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(batch), timeout=120, what="batch")
    variant = StylizedVariant.objects.get()
    assert variant.status == VariantStatus.READY, variant.error
    assert variant.mask_source == "estimated" and variant.mask.name.endswith(".png")
    out = read_image(variant.image)
    keep = inner(truth_mask())
    assert np.abs(out[keep] - original[keep] / 255).mean() < 0.03  # the product is kept
    background = inner(~truth_mask())
    assert np.abs(out[background] - original[background] / 255).mean() > 0.05

    page = admin_client.get(reverse("admin:stylerecs_stylizedvariant_change", args=[variant.pk]))
    html = page.content.decode()
    assert variant.mask.url in html and "Upload a corrected mask" in html
    gallery = admin_client.get(reverse("admin:shop_product_change", args=[product.pk]))
    assert variant.mask.url in gallery.content.decode()


def test_uploaded_mask_corrects_a_busy_photo_and_makes_new_variants(
    celery_worker, make_product, make_style, admin_client
):
    data, original = product_photo(plain=False)
    product = make_product(data, ext="png")
    style = make_style("moss", source="grass", product_mode="keep")
    first = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(first), timeout=120, what="first batch")
    assert StylizedVariant.objects.get().mask_source == ""  # busy: no estimate, all restyled

    buffer = io.BytesIO()
    Image.fromarray((truth_mask() * 255).astype(np.uint8)).save(buffer, "PNG")
    add_url = reverse("admin:stylerecs_productmask_add")
    assert admin_client.get(add_url, {"product": product.pk}).status_code == 200
    bad = admin_client.post(
        add_url, {"product": product.pk, "image": SimpleUploadedFile("m.png", b"not a png")}
    )
    assert bad.status_code == 200 and not ProductMask.objects.exists()  # a form error
    response = admin_client.post(
        add_url, {"product": product.pk, "image": SimpleUploadedFile("m.png", buffer.getvalue())}
    )
    assert response.status_code == 302
    mask = ProductMask.objects.get(product_id=product.pk)
    assert len(mask.checksum) == 64

    second = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(second), timeout=120, what="second batch")
    variant = second.variants.get()
    assert variant.params["mask"] == mask.checksum and variant.mask_source == "uploaded"
    out = read_image(variant.image)
    keep = inner(truth_mask())
    assert np.abs(out[keep] - original[keep] / 255).mean() < 0.03


def test_new_styles_default_to_texture_without_weights_and_settings_are_checked(settings, tmp_path):
    from django.core.checks import run_checks

    from stylerecs.models import Style
    from stylerecs.weights import default_method

    settings.STYLERECS = {**settings.STYLERECS, "WEIGHTS_DIR": str(tmp_path)}
    assert default_method() == "texture" and Style().method == "texture"
    settings.STYLERECS = {**settings.STYLERECS, "DEFAULT_METHOD": "classic"}
    assert Style().method == "classic"

    settings.STYLERECS = {
        **settings.STYLERECS,
        "DEFAULT_METHOD": "picasso",
        "SCORE_VARIANTS": "yes",
        "MASK_UPLOAD_TO": "",
    }
    ids = {e.id for e in run_checks()}
    assert {"stylerecs.E111", "stylerecs.E112", "stylerecs.E113"} <= ids


def test_product_mode_changes_the_style_version_and_variant_params(make_style):
    from stylerecs.services.styles import style_save
    from stylerecs.services.variants import variant_params

    style = make_style("noir", source="camera")
    assert "product_mode" not in variant_params(style) and style.version == 1
    style.product_mode = "soften"
    style.product_strength = 0.25
    style = style_save(style=style)
    assert style.version == 2
    assert variant_params(style)["product_mode"] == "soften"
    assert variant_params(style)["product_alpha"] == 0.25
    style.min_fidelity = 0.5  # routing only: the pictures stay the same
    assert style_save(style=style).version == 2
