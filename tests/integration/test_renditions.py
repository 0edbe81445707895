"""Responsive renditions: made once per stored file, never upscaled, bare, per format.

Covers stylerecs/services/renditions.py and stylerecs/engine/renditions.py with real
photos in a private media folder, the real encoders and PostgreSQL.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.template import Context, Template
from PIL import Image, ImageCms, features

from stylerecs.checks import check_rendition_settings
from stylerecs.models import Rendition, RenditionStatus
from stylerecs.services.renditions import renditions_for_products, renditions_make
from tests.conftest import sample_jpeg

pytestmark = pytest.mark.django_db

WIDTHS = [320, 640, 1024]
FORMATS = ["avif", "webp", "jpeg"]
PIL_FORMAT = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """A private media folder and the renditions settings of these tests."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STYLERECS = {
        **settings.STYLERECS,
        "RENDITION_WIDTHS": WIDTHS,
        "RENDITION_FORMATS": FORMATS,
        "ISOLATE_DECODING": False,
        "RENDITION_AVIF_SPEED": 10,  # the encoder's fastest: the files, not their size
    }
    return settings.MEDIA_ROOT


def photo_with_metadata(width: int = 800) -> bytes:
    """A real photograph ``width`` px wide carrying EXIF (camera, GPS), XMP and an ICC profile."""
    from skimage import data

    image = Image.fromarray(data.astronaut()).resize((width, round(width * 2 / 3)))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "Editor 1.0"  # Software
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif, icc_profile=icc, xmp=xmp)
    return buffer.getvalue()


def stored_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def opened(row: Rendition) -> Image.Image:
    with row.image.open("rb") as fh:
        image = Image.open(io.BytesIO(fh.read()))
        image.load()
    return image


def test_every_width_up_to_the_source_in_every_format_decodable_and_bare(media, make_product):
    product = make_product(photo_with_metadata(800))
    source = product.primary_image.image
    assert Image.open(source.path).getexif()  # the source does carry metadata

    report = renditions_make(field_file=source)

    # 1024 is above the 800 px source: left out, and the source's own width offered.
    expected = {(fmt, w) for fmt in FORMATS for w in (320, 640, 800)}
    rows = list(Rendition.objects.filter(source=source.name))
    assert {(r.format, r.width) for r in rows} == expected
    assert (report.created, report.failed) == (len(expected), 0)
    for row in rows:
        image = opened(row)
        assert row.status == RenditionStatus.READY
        assert image.format == PIL_FORMAT[row.format]
        assert image.size == (row.width, row.height)
        assert abs(row.height - row.width * 2 / 3) <= 1  # the aspect ratio is kept
        assert row.file_size == row.image.size
        assert not image.getexif(), f"{row}: EXIF left in"
        assert "icc_profile" not in image.info and "xmp" not in image.info, f"{row}: {image.info}"
        assert row.image.name.startswith("stylerecs/renditions/")


def test_second_run_writes_nothing(media, make_product):
    product = make_product(photo_with_metadata(700))
    source = product.primary_image.image
    renditions_make(field_file=source)
    files = stored_files(media)
    before = list(Rendition.objects.values_list("pk", "image", "created_at"))

    report = renditions_make(field_file=source)
    call_command("stylerecs_renditions", verbosity=0)

    assert (report.created, report.failed, report.existing) == (0, 0, len(before))
    assert stored_files(media) == files
    assert list(Rendition.objects.values_list("pk", "image", "created_at")) == before


def test_small_source_is_never_upscaled(media, make_product):
    product = make_product(sample_jpeg("coffee", 200))  # 200 x 133
    renditions_make(field_file=product.primary_image.image)
    assert set(Rendition.objects.values_list("format", "width")) == {(f, 200) for f in FORMATS}


class NoWebPStorage(FileSystemStorage):
    """A storage that fails to write WebP files, as a flaky bucket fails one upload."""

    def _save(self, name, content):
        # Local files are written under a temporary ".<name>.<uuid>.part" name first.
        if ".webp" in name:
            raise OSError("upload refused")
        return super()._save(name, content)


def test_a_broken_rendition_fails_that_rendition_only_and_is_retried(media, make_product, settings):
    product = make_product(photo_with_metadata(700))
    source = product.primary_image.image
    storages = settings.STORAGES
    settings.STORAGES = {
        **storages,
        "default": {"BACKEND": f"{__name__}.NoWebPStorage", "OPTIONS": {"location": media}},
    }

    report = renditions_make(field_file=source)

    failed = Rendition.objects.filter(status=RenditionStatus.FAILED)
    assert set(failed.values_list("format", flat=True)) == {"webp"}
    assert all("upload refused" in row.error for row in failed)
    assert (report.created, report.failed) == (6, 3)
    ready = Rendition.objects.filter(status=RenditionStatus.READY)
    assert set(ready.values_list("format", flat=True)) == {"avif", "jpeg"}

    settings.STORAGES = storages
    report = renditions_make(field_file=source)
    assert (report.created, report.failed, report.existing) == (3, 0, 6)
    assert not Rendition.objects.filter(status=RenditionStatus.FAILED).exists()


def test_a_photo_replaced_under_the_same_name_is_rendered_again(media, make_product):
    product = make_product(photo_with_metadata(700))
    source = product.primary_image.image
    renditions_make(field_file=source)
    old = set(Rendition.objects.values_list("image", flat=True))
    Path(source.path).write_bytes(sample_jpeg("chelsea", 400))

    renditions_make(field_file=source)

    rows = Rendition.objects.filter(source=source.name)
    assert set(rows.values_list("width", flat=True)) == {320, 400}
    assert not old & set(rows.values_list("image", flat=True))


def test_a_photo_that_is_not_an_image_is_reported_not_raised(media, make_product):
    product = make_product(b"not a picture at all", ext="jpg")
    report = renditions_for_products(product_ids=[product.pk])
    assert report.failed == 1 and "not an image" in report.errors[0]
    assert not Rendition.objects.exists()


@pytest.fixture
def without_avif(monkeypatch):
    """A host whose Pillow has no AVIF encoder and no pillow-avif-plugin."""
    check = features.check
    monkeypatch.setattr(features, "check", lambda name: False if name == "avif" else check(name))
    monkeypatch.setitem(sys.modules, "pillow_avif", None)  # import fails


def test_without_avif_support_webp_and_jpeg_with_a_warning(media, make_product, without_avif):
    warnings = [w for w in check_rendition_settings() if w.id == "stylerecs.W140"]
    assert len(warnings) == 1 and "webp, jpeg" in warnings[0].msg

    product = make_product(photo_with_metadata(700))
    report = renditions_make(field_file=product.primary_image.image)

    assert report.failed == 0
    assert set(Rendition.objects.values_list("format", flat=True)) == {"webp", "jpeg"}
    html = Template("{% load stylerecs_images %}{% stylerecs_picture photo %}").render(
        Context({"photo": product.primary_image.image})
    )
    assert 'type="image/webp"' in html and "avif" not in html and ".jpg 700w" in html


def test_avif_support_raises_no_warning(media):
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF encoder")
    assert not [w for w in check_rendition_settings() if w.id == "stylerecs.W140"]


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("RENDITION_WIDTHS", [], "stylerecs.E140"),
        ("RENDITION_WIDTHS", [320, "640"], "stylerecs.E140"),
        ("RENDITION_FORMATS", ["avif", "heic"], "stylerecs.E141"),
        ("RENDITION_FORMATS", ["jpeg", "webp"], "stylerecs.W141"),
        ("RENDITION_QUALITY", {"avif": 0}, "stylerecs.E142"),
    ],
)
def test_bad_rendition_settings_are_system_check_errors(settings, key, value, code):
    settings.STYLERECS = {**settings.STYLERECS, key: value}
    assert code in {e.id for e in check_rendition_settings()}


def test_backfill_command_reports_and_is_idempotent(media, make_product, make_style, capsys):
    from tests.conftest import sample_jpeg as photo

    products = [make_product(photo(name, 360)) for name in ("coffee", "chelsea")]
    call_command("stylerecs_renditions")
    first = capsys.readouterr()
    assert "12 made, 0 already there, 0 failed" in first.out
    assert "100%" in first.err  # the progress bar
    call_command("stylerecs_renditions", only="products")
    assert "0 made, 12 already there, 0 failed" in capsys.readouterr().out
    assert Rendition.objects.count() == 12
    assert {r.source for r in Rendition.objects.all()} == {
        p.primary_image.image.name for p in products
    }


@pytest.mark.slow
def test_the_worker_makes_renditions_when_a_variant_becomes_ready(
    transactional_db, celery_worker, make_product, make_style
):
    """The real pipeline: request a variant, the worker stylizes it, then renders it."""
    from stylerecs.models import StylizedVariant
    from stylerecs.services.variants import variants_request
    from tests.conftest import wait_for

    product = make_product(sample_jpeg("coffee", 240))  # 240 x 160
    style = make_style("noir")
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])
    variant = StylizedVariant.objects.get(batches=batch)
    photo = product.primary_image.image.name

    def rendered():
        variant.refresh_from_db()
        if not variant.image:
            return False
        rows = Rendition.objects.filter(source__in=[variant.image.name, photo])
        return rows.count() >= 2 * 3 and set(rows.values_list("source", flat=True))

    log = celery_worker.log_path
    try:
        sources = wait_for(rendered, timeout=120, what="the renditions")
    except AssertionError as exc:
        pytest.fail(f"{exc}\n--- worker log ---\n{log.read_text()[-3000:]}")
    assert sources == {variant.image.name, photo}
    # The worker's defaults: every format; 240 px is below every configured width.
    for source in sources:
        rows = Rendition.objects.filter(source=source)
        assert set(rows.values_list("format", "width")) == {
            (fmt, 240) for fmt in ("avif", "webp", "jpeg")
        }
        assert all(row.status == RenditionStatus.READY for row in rows)
