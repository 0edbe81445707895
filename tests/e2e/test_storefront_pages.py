"""Storefront and admin pages in a real browser, without the worker: what a shopper sees
first on a product page, the header on a phone, the favicon, the For-you page that
refreshes itself while recommendations are computed, the product gallery in the admin
(no dead "Add another" link) and the batch page whose fields follow its progress.

Rows are made directly (the fixtures' tinted variants), so each test takes seconds.
Screenshots go to test-artifacts/e2e/ (prefix 2x-); look at them after a change.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from stylerecs.models import GenerationBatch, Recommendation, StylePreference, VariantStatus
from stylerecs.services.batches import batches_refresh
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e]
SCREENSHOT_PREFIX = "2x-"
PASSWORD = "correct-horse-battery-staple"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def styled(transactional_db, make_product, make_style, make_variant):
    """Two products, each approved in two styles (enough for a style quiz)."""
    products = [make_product(title="Chelsea cat print"), make_product(title="Morning coffee")]
    noir, vintage = make_style("noir"), make_style("vintage", source="astronaut")
    variants = {(p.pk, s.slug): make_variant(p, s) for p in products for s in (noir, vintage)}
    return {"products": products, "noir": noir, "vintage": vintage, "variants": variants}


def admin_login(page, live_server) -> None:
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")


def test_first_visit_to_a_product_page_shows_the_original_photo(
    live_server, styled, page, page_problems, screenshot
):
    product = styled["products"][0]

    page.goto(f"{live_server.url}{product.get_absolute_url()}")

    shown = page.locator(".stylerecs-switcher .stylerecs-panel:visible")
    expect(shown).to_have_count(1)
    expect(shown).to_have_class(re.compile(r"stylerecs-panel-original"))
    expect(shown.locator("figcaption")).to_have_text("Original photo")
    expect(page.locator(".stylerecs-tab")).to_have_count(3)  # original, Noir, Vintage
    screenshot("2x-01-product-first-visit")
    page.locator(".stylerecs-tab[data-style=vintage]").click()
    expect(page.locator(".stylerecs-panel:visible")).to_have_attribute("data-style", "vintage")
    page_problems.assert_none()


def test_header_navigation_fits_a_phone(live_server, styled, browser):
    context = browser.new_context(viewport=PHONE, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        nav = page.get_by_role("navigation", name="Main")
        box = nav.bounding_box()
        brand = page.locator("header.site .brand").bounding_box()
        links = nav.locator("a")
        tops = sorted({round(links.nth(i).bounding_box()["y"]) for i in range(links.count())})
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "2x-02-phone-header.png"), full_page=True)
    finally:
        context.close()

    # The links take the header's full width below the brand, a few rows, not a
    # 260 px column beside it with one link per line.
    assert box["width"] >= PHONE["width"] - 2 * 20, box
    assert box["y"] >= brand["y"] + brand["height"] - 1, (box, brand)
    assert len(tops) <= 3, tops
    assert widths[0] <= widths[1], widths  # nothing sticks out sideways


def test_pages_and_the_admin_have_a_favicon(live_server, styled, page, page_problems):
    page.goto(f"{live_server.url}/")
    href = page.locator("link[rel=icon]").get_attribute("href")
    icon = page.request.get(f"{live_server.url}{href}")
    # The admin's pages name no icon: browsers ask /favicon.ico, which leads to ours.
    legacy = page.request.get(f"{live_server.url}/favicon.ico")
    page.goto(f"{live_server.url}/admin/login/")

    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert legacy.status == 200 and legacy.url.endswith(href)
    page_problems.assert_none()  # no 404 for any icon on either page


def test_for_you_refreshes_itself_after_the_quiz_until_the_picks_arrive(
    live_server, styled, page, page_problems, screenshot, settings
):
    settings.STYLERECS = {**settings.STYLERECS, "FOR_YOU_REFRESH_SECONDS": 1}
    page.goto(f"{live_server.url}/style-quiz/")
    for round_ in page.locator("fieldset.sr-round").all():
        round_.locator(".sr-choice[data-style=noir]").click()
    page.get_by_role("button", name="Show me my style").click()

    expect(page).to_have_url(f"{live_server.url}/for-you/")
    expect(page.locator(".sr-pending")).to_contain_text("Updating your picks")
    screenshot("2x-03-for-you-updating")
    # Reloading itself, the page still says so while nothing has been computed.
    page.wait_for_url(re.compile(r"/for-you/\?waiting=2$"))
    expect(page.locator(".sr-pending")).to_be_visible()

    # What the worker does when it has scored the shopper: store their set.
    session = StylePreference.objects.get(style=styled["noir"]).session_key
    Recommendation.objects.create(
        session_key=session,
        product=styled["products"][1],
        score=0.9,
        rank=1,
        reason="Because you like Noir",
        computed_at=timezone.now(),
    )

    # No reload by the test: the page comes back by itself and then stops refreshing.
    expect(page.locator(".sr-hero")).to_contain_text("Picked for your taste", timeout=15_000)
    expect(page.locator(".sr-pending")).to_have_count(0)
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
    expect(page.locator(".sr-card h2")).to_have_text(["Morning coffee"])
    screenshot("2x-04-for-you-arrived")
    page_problems.assert_none()


def test_admin_product_gallery_has_no_dead_add_link(
    live_server, styled, page, page_problems, screenshot
):
    product = styled["products"][0]
    admin_login(page, live_server)

    page.goto(f"{live_server.url}/admin/shop/product/{product.pk}/change/")

    gallery = page.locator(".inline-group", has_text="original beside variant")
    expect(gallery.locator("tbody tr.has_original")).to_have_count(2)
    # Role queries see only what is shown: the admin's script may keep a hidden row.
    for name in ("Add another Stylized variant", "Add another Style profile"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("button", name="Add another Product image")).to_have_count(1)
    for image in gallery.locator("img").all():
        assert image.get_attribute("alt"), image
    screenshot("2x-05-admin-product-gallery")
    page_problems.assert_none()  # and no JS error


def test_batch_page_fields_follow_its_live_progress(
    live_server, styled, page, page_problems, screenshot
):
    variants = list(styled["variants"].values())[:2]
    for variant in variants:
        variant.status = VariantStatus.PROCESSING
        variant.save(update_fields=["status"])
    batch = GenerationBatch.objects.create(total=2, started_at=timezone.now())
    batch.variants.add(*variants)
    admin_login(page, live_server)

    page.goto(f"{live_server.url}/admin/stylerecs/generationbatch/{batch.pk}/change/")
    box = page.locator("#batch-progress")
    expect(box.locator("[data-field=state]")).to_have_text("working…")
    expect(page.locator(".field-ready .readonly")).to_have_text("0")
    screenshot("2x-06-batch-running")

    # The worker finishes the variants while the page is open.
    for variant in variants:
        variant.status = VariantStatus.READY
        variant.save(update_fields=["status"])
    batches_refresh(batch_ids=[batch.pk])

    expect(box.locator("[data-field=state]")).to_have_text("finished")
    expect(page.locator(".field-ready .readonly")).to_have_text("2")
    expect(page.locator(".field-failed .readonly")).to_have_text("0")
    expect(page.locator(".field-finished_at .readonly")).not_to_have_text("-")
    expect(page.locator("#content h2").first).to_have_text(f"Batch #{batch.pk} (2/2)")
    assert page.title().startswith(f"Batch #{batch.pk} (2/2)")
    screenshot("2x-07-batch-finished")
    page_problems.assert_none()
