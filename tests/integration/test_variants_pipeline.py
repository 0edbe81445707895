"""The generation pipeline end to end: service -> Redis -> real Celery worker -> storage.

Covers stylerecs/services/variants.py and variant_processing.py, stylerecs/tasks.py and
the CLI command.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from stylerecs.models import GenerationBatch, StylizedVariant, VariantStatus
from stylerecs.services.styles import style_save
from stylerecs.services.variants import variants_request
from stylerecs.tasks import stylize_variants

from .conftest import sample_jpeg, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def finished(batch: GenerationBatch) -> GenerationBatch | None:
    batch.refresh_from_db()
    return batch if batch.is_finished else None


def test_cli_generate_waits_for_worker_and_stores_a_real_image(
    celery_worker, make_product, make_style, capsys
):
    product = make_product()
    make_style("noir", source="camera")
    call_command(
        "stylerecs_generate",
        "--products",
        str(product.pk),
        "--styles",
        "noir",
        "--wait",
        "--timeout",
        "120",
    )
    assert "finished: 1 ready, 0 failed" in capsys.readouterr().out
    variant = StylizedVariant.objects.get(product_id=product.pk)
    assert variant.status == VariantStatus.READY
    assert variant.image.name.startswith("stylerecs/variants/")
    with default_storage.open(variant.image.name) as fh:
        image = Image.open(io.BytesIO(fh.read()))
        image.load()
    assert image.format == "JPEG" and image.size == (variant.width, variant.height)
    assert "exif" not in image.info  # metadata stripped


def _stored_files(folder: str) -> set[str]:
    """Every file name under a storage folder, recursively."""
    dirs, files = default_storage.listdir(folder) if default_storage.exists(folder) else ([], [])
    found = {f"{folder}/{name}" for name in files}
    for sub in dirs:
        found |= _stored_files(f"{folder}/{sub}")
    return found


def test_second_request_reuses_existing_variant(celery_worker, make_product, make_style):
    product = make_product()
    style = make_style("ember", source="chelsea")
    first = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(first), what="first batch")
    name = StylizedVariant.objects.get().image.name
    folder, own = name.rsplit("/", 1)
    before = _stored_files("stylerecs/variants")

    second = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    # Nothing new to do: the second batch is complete at once and shares the variant.
    assert second.total == 1 and second.ready == 1 and second.is_finished
    assert StylizedVariant.objects.count() == 1
    assert StylizedVariant.objects.get().image.name == name
    # No file was written for the second request, and the variant has one file: its
    # content-addressed name, no "<digest>_abc1234.jpg" copy beside it. (The shard
    # folder may hold other variants' files: it is named by two hex digits only.)
    assert _stored_files("stylerecs/variants") == before
    stem = own.rsplit(".", 1)[0]
    assert [f for f in default_storage.listdir(folder)[1] if f.startswith(stem)] == [own]


def test_duplicated_task_delivery_makes_no_second_row_or_file(
    celery_worker, make_product, make_style
):
    product = make_product()
    style = make_style("moss", source="coffee")
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(batch), what="batch")
    variant = StylizedVariant.objects.get()
    before = (variant.image.name, variant.finished_at)
    # The broker delivers the same message again (same task id), after it already ran.
    stylize_variants.apply_async(args=[[variant.pk]], task_id="redelivered-task")
    stylize_variants.apply_async(args=[[variant.pk]], task_id="redelivered-task")
    probe = variants_request(product_ids=[make_product().pk], style_ids=[style.pk])
    wait_for(lambda: finished(probe), what="a later batch, proving the queue drained")
    variant.refresh_from_db()
    assert (variant.image.name, variant.finished_at) == before
    assert StylizedVariant.objects.filter(product_id=product.pk).count() == 1
    batch.refresh_from_db()
    assert (batch.ready, batch.failed, batch.total) == (1, 0, 1)


def test_editing_a_style_bumps_its_version_and_regenerates(celery_worker, make_product, make_style):
    product = make_product()
    style = make_style("vintage", source="coffee", strength=1.0)
    first = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(first), what="first batch")

    style.name = "Vintage (renamed)"  # does not change output: same version
    style_save(style=style)
    assert style.version == 1
    style.strength = 0.5  # changes output
    style_save(style=style)
    assert style.version == 2

    second = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    wait_for(lambda: finished(second), what="second batch")
    versions = sorted(StylizedVariant.objects.values_list("style_version", flat=True))
    assert versions == [1, 2]
    assert StylizedVariant.objects.filter(status=VariantStatus.READY).count() == 2


def test_bad_inputs_fail_alone_and_cmyk_is_converted(celery_worker, make_product, make_style):
    """One batch holding a good photo, a CMYK JPEG and three broken files."""
    good = make_product(title="good")
    cmyk_buffer = io.BytesIO()
    Image.open(io.BytesIO(sample_jpeg("astronaut"))).convert("CMYK").save(cmyk_buffer, "JPEG")
    cmyk = make_product(cmyk_buffer.getvalue(), title="cmyk")
    corrupt = make_product(b"this is not an image at all" * 20, title="corrupt")
    whole = sample_jpeg("chelsea", side=400)
    truncated = make_product(whole[: len(whole) // 2], title="truncated")
    bomb_buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb_buffer, "PNG")  # 400 Mpx in a few kB
    bomb = make_product(bomb_buffer.getvalue(), title="bomb", ext="png")
    style = make_style("cosmic", source="hubble_deep_field")

    batch = variants_request(
        product_ids=[p.pk for p in (good, cmyk, corrupt, truncated, bomb)], style_ids=[style.pk]
    )
    wait_for(lambda: finished(batch), what="batch with bad inputs")
    by_title = {v.product.title: v for v in StylizedVariant.objects.select_related("product")}
    assert by_title["good"].status == VariantStatus.READY
    assert by_title["cmyk"].status == VariantStatus.READY
    with default_storage.open(by_title["cmyk"].image.name) as fh:
        assert Image.open(fh).mode == "RGB"
    for title in ("corrupt", "truncated", "bomb"):
        assert by_title[title].status == VariantStatus.FAILED, title
        assert by_title[title].error, title
    assert "image" in by_title["corrupt"].error.lower()
    assert (
        "truncated" in by_title["truncated"].error.lower()
        or "corrupt" in by_title["truncated"].error.lower()
    )
    assert "bomb" in by_title["bomb"].error.lower() or "too large" in by_title["bomb"].error.lower()
    batch.refresh_from_db()
    assert (batch.ready, batch.failed) == (2, 3)
    # The worker survived: a new request still completes.
    again = variants_request(product_ids=[make_product().pk], style_ids=[style.pk])
    assert wait_for(lambda: finished(again), what="batch after bad inputs").ready == 1


def test_jpeg_claiming_more_pixels_than_its_scan_holds_fails_with_reason(
    celery_worker, make_product, make_style
):
    # A 160 px photo whose frame header says 4000 x 3000: Pillow alone would decode it
    # into 12 MP of mostly flat grey and a variant would be made of that.
    data = bytearray(sample_jpeg("coffee"))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = (3000).to_bytes(2, "big") + (4000).to_bytes(2, "big")
    liar = make_product(bytes(data), title="liar")
    batch = variants_request(product_ids=[liar.pk], style_ids=[make_style("dune").pk])
    wait_for(lambda: finished(batch), what="the batch")

    variant = StylizedVariant.objects.get()
    assert variant.status == VariantStatus.FAILED and not variant.image
    assert "compressed data ends before the last of the pixels" in variant.error


def test_missing_product_photo_file_fails_with_reason(celery_worker, make_product, make_style):
    product = make_product()
    style = make_style("noir")
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    # Not yet picked up? Either way, a deleted file must fail cleanly, not crash.
    default_storage.delete(product.primary_image.image.name)
    wait_for(lambda: finished(batch), what="batch")
    variant = StylizedVariant.objects.get()
    if variant.status == VariantStatus.FAILED:
        assert "cannot be read" in variant.error or "no photo" in variant.error
    else:
        assert variant.status == VariantStatus.READY  # the worker was faster than delete()


def test_style_whose_weights_are_missing_fails_with_what_to_install(
    celery_worker, make_product, make_style, client
):
    """An adain style on a worker with no weights installed: variants fail, saying why,
    and the style's admin page warns; classic styles keep working beside it."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    product = make_product()
    adain = make_style("neural", method="adain")
    classic = make_style("noir")
    batch = variants_request(product_ids=[product.pk], style_ids=[adain.pk, classic.pk])
    wait_for(lambda: finished(batch), what="batch")
    failed = StylizedVariant.objects.get(style=adain)
    assert failed.status == VariantStatus.FAILED
    assert "needs weights that are not installed" in failed.error
    assert "stylerecs_weights install" in failed.error
    assert StylizedVariant.objects.get(style=classic).status == VariantStatus.READY

    client.force_login(User.objects.create_superuser("boss", password="pw"))
    page = client.get(reverse("admin:stylerecs_style_change", args=[adain.pk]))
    assert b"needs weights that are not installed" in page.content
    listing = client.get(reverse("admin:stylerecs_style_changelist"))
    assert b"weights missing" in listing.content
