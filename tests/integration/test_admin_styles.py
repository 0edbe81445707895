"""Curating the style library through the real admin form (stylerecs/admin/styles.py).

Staff upload a reference image on the add page and replace it on the change page; the
service checksums the upload before Django has stored it (it used to look for it in
storage by its upload name and answer 500).
"""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from stylerecs.models import Style
from tests.conftest import admin_style_form

from .conftest import sample_jpeg

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_staff_add_style_with_uploaded_reference_image(client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    photo = sample_jpeg("camera")
    upload = SimpleUploadedFile("noir-ref.jpg", photo, content_type="image/jpeg")

    response = client.post(
        reverse("admin:stylerecs_style_add"), admin_style_form(reference_image=upload)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    style = Style.objects.get(slug="noir")
    assert style.reference_checksum == hashlib.sha256(photo).hexdigest()
    assert style.version == 1
    with style.reference_image.open("rb") as stored:
        assert stored.read() == photo  # the whole upload was stored, not a rewound tail


def test_staff_replace_reference_image_bumps_version(client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    first, second = sample_jpeg("camera"), sample_jpeg("astronaut")
    client.post(
        reverse("admin:stylerecs_style_add"),
        admin_style_form(reference_image=SimpleUploadedFile("a.jpg", first, "image/jpeg")),
    )
    style = Style.objects.get(slug="noir")

    response = client.post(
        reverse("admin:stylerecs_style_change", args=[style.pk]),
        admin_style_form(reference_image=SimpleUploadedFile("b.jpg", second, "image/jpeg")),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    style.refresh_from_db()
    assert style.reference_checksum == hashlib.sha256(second).hexdigest()
    assert style.version == 2  # the look changed: variants of version 1 are not reused
    with style.reference_image.open("rb") as stored:
        assert stored.read() == second


def test_add_style_without_image_is_a_form_error_not_a_500(client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))

    response = client.post(reverse("admin:stylerecs_style_add"), admin_style_form())

    assert response.status_code == 200
    assert "reference_image" in response.context["adminform"].form.errors
    assert not Style.objects.exists()
