"""Curation in the admin: generate action -> worker -> progress -> approve -> storefront.

Covers stylerecs/admin/, the template tag and who may do what.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from stylerecs.models import GenerationBatch, StylizedVariant, VariantStatus

from .conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

CHANGELIST = "admin:shop_product_changelist"


def staff(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def generate_via_admin(client, product, style):
    url = reverse(CHANGELIST)
    picker = client.post(url, {"action": "generate_variants", "_selected_action": [product.pk]})
    assert picker.status_code == 200 and b"stylerecs-style-picker" in picker.content
    return client.post(
        url,
        {
            "action": "generate_variants",
            "_selected_action": [product.pk],
            "apply": "1",
            "styles": [style.pk],
        },
    )


def shown_urls(variant) -> set[str]:
    """The URLs a page may show a variant by: its file and its renditions' files."""
    from stylerecs.models import Rendition

    rows = Rendition.objects.filter(source=variant.image.name).exclude(image="")
    return {variant.image.url} | {row.image.url for row in rows}


def page_urls(response) -> set[str]:
    return set(re.findall(r'(/media/[^"\s,]+)', response.content.decode()))


def test_admin_generate_progress_approve_then_product_page_shows_variant(
    client, celery_worker, make_product, make_style
):
    product = make_product()
    style = make_style("noir")
    client.force_login(User.objects.create_superuser("boss", password="pw"))

    response = generate_via_admin(client, product, style)
    batch = GenerationBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:stylerecs_generationbatch_change", args=[batch.pk])
    page = client.get(response.url)
    assert b'class="stylerecs-progress' in page.content

    def progress():
        data = client.get(batch.get_progress_url()).json()
        return data if data["finished"] else None

    data = wait_for(progress, what="batch progress to finish")
    assert (data["ready"], data["failed"], data["percent"]) == (1, 0, 100)
    variant = StylizedVariant.objects.get()
    assert variant.status == VariantStatus.READY

    shop_page = client.get(product.get_absolute_url())
    assert not shown_urls(variant) & page_urls(shop_page)  # not approved yet
    changelist = client.get(reverse("admin:stylerecs_stylizedvariant_changelist"))
    assert f"{variant.seconds:.2f} s".encode() in changelist.content  # time, rounded

    response = client.post(
        reverse("admin:stylerecs_stylizedvariant_changelist"),
        {"action": "approve", "_selected_action": [variant.pk]},
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.status == VariantStatus.APPROVED
    shop_page = client.get(product.get_absolute_url())
    # The variant's file, or its renditions once the worker has made them.
    assert shown_urls(variant) & page_urls(shop_page)
    assert b"In the Noir style" in shop_page.content
    # and the file is really served
    assert client.get(variant.image.url).status_code == 200

    # the product's admin page shows the gallery: original beside variant
    change = client.get(reverse("admin:shop_product_change", args=[product.pk]))
    assert variant.image.url.encode() in change.content
    assert product.primary_image.image.url.encode() in change.content


def test_non_staff_user_cannot_reach_admin_actions(client, make_product, make_style):
    product = make_product()
    style = make_style("noir")
    client.force_login(User.objects.create_user("shopper", password="pw"))
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "generate_variants",
            "_selected_action": [product.pk],
            "apply": "1",
            "styles": [style.pk],
        },
    )
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert not GenerationBatch.objects.exists()


def test_staff_without_generate_permission_cannot_generate(client, make_product, make_style):
    product = make_product()
    style = make_style("noir")
    client.force_login(staff("clerk", "shop.view_product", "shop.change_product"))
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "generate_variants",
            "_selected_action": [product.pk],
            "apply": "1",
            "styles": [style.pk],
        },
    )
    # The action is not offered to this user, so Django refuses it.
    assert not GenerationBatch.objects.exists()
    assert response.status_code in (200, 302)
    page = client.get(reverse(CHANGELIST))
    assert b"generate_variants" not in page.content


def test_staff_without_review_permission_cannot_approve(client, make_product, make_style):
    product = make_product()
    style = make_style("noir")
    variant = StylizedVariant.objects.create(
        product=product,
        style=style,
        style_version=1,
        source_checksum="x",
        idempotency_key="k",
        status=VariantStatus.READY,
        image="stylerecs/variants/x.jpg",
    )
    client.force_login(staff("viewer", "stylerecs.view_stylizedvariant"))
    client.post(
        reverse("admin:stylerecs_stylizedvariant_changelist"),
        {"action": "approve", "_selected_action": [variant.pk]},
    )
    variant.refresh_from_db()
    assert variant.status == VariantStatus.READY

    client.force_login(
        staff("reviewer", "stylerecs.view_stylizedvariant", "stylerecs.review_stylizedvariant")
    )
    client.post(
        reverse("admin:stylerecs_stylizedvariant_changelist"),
        {"action": "reject", "_selected_action": [variant.pk]},
    )
    variant.refresh_from_db()
    assert variant.status == VariantStatus.REJECTED


@pytest.mark.parametrize(
    "status",
    [
        VariantStatus.PENDING,
        VariantStatus.PROCESSING,
        VariantStatus.READY,
        VariantStatus.FAILED,
        VariantStatus.REJECTED,
    ],
)
def test_shopper_never_sees_an_unapproved_variant(client, make_product, make_style, status):
    product = make_product()
    style = make_style("noir")
    StylizedVariant.objects.create(
        product=product,
        style=style,
        style_version=1,
        source_checksum="x",
        idempotency_key=f"k-{status}",
        status=status,
        image="stylerecs/variants/secret.jpg",
    )
    page = client.get(product.get_absolute_url())
    assert page.status_code == 200
    assert b"secret.jpg" not in page.content
    assert product.primary_image.image.url.encode() in page.content


def test_batch_progress_endpoint_requires_staff(client, make_product, make_style):
    batch = GenerationBatch.objects.create(total=1)
    client.force_login(User.objects.create_user("shopper", password="pw"))
    response = client.get(batch.get_progress_url())
    assert response.status_code == 302 and "/admin/login/" in response.url
