"""Staff restyle products in the admin; a shopper sees and switches them on the storefront.

Drives a real Chromium against the live server and a real Celery worker, the way a
person would: log in, pick products and styles, watch the progress bar, approve the
variants in their gallery, then open a product page and switch between the original
photo and its styles. Full-page screenshots of every step go to test-artifacts/e2e/.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from stylerecs.models import GenerationBatch, Rendition, StylizedVariant, VariantStatus
from tests.conftest import sample_jpeg

pytestmark = [pytest.mark.e2e]
SCREENSHOT_PREFIX = "0"  # 01-login ... 08-product-not-restyled

PASSWORD = "correct-horse-battery-staple"
# The worker has two CPU cores on CI: a few small photos take seconds, not minutes.
GENERATION_TIMEOUT_MS = 240_000
PHOTO_SIDE = 480
COUNTS = ("ready", "failed", "total")

IMAGE_LOADED = "img => img.complete && img.naturalWidth > 0"
ALL_IMAGES_LOADED = """selector => {
    const images = [...document.querySelectorAll(selector)];
    return images.length > 0 && images.every(img => img.complete && img.naturalWidth > 0);
}"""


def wait_until_loaded(image, timeout: int = 20_000) -> int:
    """Wait until the browser decoded this <img>; return its natural width."""
    image.page.wait_for_function(IMAGE_LOADED, arg=image.element_handle(), timeout=timeout)
    return image.evaluate("img => img.naturalWidth")


def shows(src: str, image) -> bool:
    """Whether ``src`` shows this stored image: the file itself or one of its renditions
    (the worker makes those once a variant is ready; the photo's come with it)."""
    names = {
        image.name,
        *Rendition.objects.filter(source=image.name).values_list("image", flat=True),
    }
    return src.removeprefix(settings.MEDIA_URL) in names


def test_anonymous_visitor_to_admin_is_sent_to_login(live_server, page, page_problems):
    page.goto(f"{live_server.url}/admin/")

    expect(page).to_have_url(f"{live_server.url}/admin/login/?next=/admin/")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_empty()
    page_problems.assert_none()


def test_staff_generate_and_approve_variants_then_shopper_switches_styles(
    transactional_db,
    live_server,
    celery_worker,
    make_product,
    make_style,
    page,
    page_problems,
    screenshot,
):
    cat_print = make_product(sample_jpeg("chelsea", PHOTO_SIDE), title="Chelsea cat print")
    coffee = make_product(sample_jpeg("coffee", PHOTO_SIDE), title="Morning coffee print")
    untouched = make_product(sample_jpeg("rocket", PHOTO_SIDE), title="Rocket launch print")
    make_style("noir", source="camera")
    make_style("vintage", source="astronaut")
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    admin = f"{live_server.url}/admin/"

    # Log in the way staff do: the admin sends an anonymous visitor to its login form.
    page.goto(admin)
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    screenshot("01-login")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(admin)
    expect(page.locator("#user-tools")).to_contain_text("boss", ignore_case=True)

    # Product changelist: tick two of the three products, run the generate action.
    page.locator("#content-main").get_by_role("link", name="Products", exact=True).click()
    expect(page).to_have_url(f"{admin}shop/product/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    for product in (cat_print, coffee):
        page.locator(f"input[name=_selected_action][value='{product.pk}']").check()
    page.locator("select[name=action]").select_option(label="Generate stylized variants…")
    page.get_by_role("button", name="Go").click()

    # The style picker lists what was ticked; pick both styles.
    picker = page.locator("#generate-variants-form")
    expect(picker).to_contain_text("Generate stylized variants of 2 products")
    expect(picker.locator("li", has_text="Chelsea cat print")).to_be_visible()
    expect(picker.locator("li", has_text="Morning coffee print")).to_be_visible()
    expect(picker).not_to_contain_text("Rocket launch print")
    page.get_by_label("Noir").check()
    page.get_by_label("Vintage").check()
    screenshot("02-style-picker")
    page.get_by_role("button", name="Generate").click()

    # The batch page: a live progress bar that the admin's JS updates until finished.
    batch = GenerationBatch.objects.get()
    expect(page).to_have_url(f"{admin}stylerecs/generationbatch/{batch.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text(f"Batch #{batch.pk}: 4 variants queued")
    box = page.locator("#batch-progress")
    bar = box.locator("progress.stylerecs-progress")
    expect(bar).to_be_visible()
    screenshot("03-progress")
    try:
        expect(box.locator("[data-field=state]")).to_have_text(
            "finished", timeout=GENERATION_TIMEOUT_MS
        )
    except AssertionError as exc:
        screenshot("04-finished")
        log = celery_worker.log_path.read_text(errors="replace")[-4000:]
        pytest.fail(f"{exc}\n--- end of the worker's log ---\n{log}")
    # Once finished, the page reloads itself so that its own fields agree with the box.
    expect(page.locator("#content")).to_contain_text(f"Batch #{batch.pk} (4/4)")
    box = page.locator("#batch-progress")
    bar = box.locator("progress.stylerecs-progress")
    screenshot("04-finished")
    counts = {key: box.locator(f"[data-count={key}]").inner_text() for key in COUNTS}
    # On failure, say why: the page lists each failed variant with its reason.
    failures = box.locator(".stylerecs-failures").inner_text()
    assert counts == {"ready": "4", "failed": "0", "total": "4"}, failures
    expect(box.locator(".stylerecs-progress-label")).to_have_text("100%")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [4, 4]
    expect(box.locator(".stylerecs-failures")).to_be_hidden()
    variants = StylizedVariant.objects.filter(batches=batch)
    assert sorted(variants.values_list("status", flat=True)) == [VariantStatus.READY] * 4

    # Review: the batch's variants with their thumbnails (variant beside original).
    box.get_by_role("link", name="Review these variants").click()
    expect(page).to_have_url(re.compile(rf"/stylizedvariant/\?batches__id__exact={batch.pk}$"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="Ready for review")).to_have_count(4)
    page.wait_for_function(ALL_IMAGES_LOADED, arg="#result_list tbody img")
    expect(page.locator("#result_list tbody img")).to_have_count(8)
    screenshot("05-review")

    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option(label="Approve: show to shoppers")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("4 variant(s) approved.")
    expect(page.locator("#result_list tbody tr", has_text="Approved")).to_have_count(4)
    screenshot("05b-approved")
    assert sorted(variants.values_list("status", flat=True)) == [VariantStatus.APPROVED] * 4

    # A visitor with no style yet sees the product's own photo first, the styles as tabs.
    page.goto(f"{live_server.url}{cat_print.get_absolute_url()}")
    expect(page.get_by_role("heading", name="Chelsea cat print")).to_be_visible()
    switcher = page.locator(f"#sr-{cat_print.pk}")
    shown = switcher.locator(".stylerecs-panel:visible")
    expect(shown).to_have_count(1)
    expect(shown).to_have_class(re.compile(r"\bstylerecs-panel-original\b"))
    tabs = switcher.locator(".stylerecs-tabs")
    tabs.locator(".stylerecs-tab[data-style=noir]").click()
    expect(shown).to_have_class(re.compile(r"\bstylerecs-panel-variant\b"))
    expect(shown).to_have_attribute("data-style", "noir")
    expect(shown.locator("figcaption")).to_have_text("In the Noir style")
    noir_src = shown.locator("img").get_attribute("src")
    assert shows(noir_src, variants.get(product=cat_print, style__slug="noir").image)
    assert wait_until_loaded(shown.locator("img")) > 0

    # The tabs switch panels with CSS alone: the original, then the other style.
    tabs.get_by_text("Original", exact=True).click()
    expect(shown).to_have_count(1)
    expect(shown).to_have_class(re.compile(r"\bstylerecs-panel-original\b"))
    expect(shown.locator("figcaption")).to_have_text("Original photo")
    original_src = shown.locator("img").get_attribute("src")
    assert shows(original_src, cat_print.primary_image.image) and original_src != noir_src
    assert wait_until_loaded(shown.locator("img")) > 0
    screenshot("06-product-original")

    tabs.locator(".stylerecs-tab[data-style=vintage]").click()
    expect(shown).to_have_count(1)
    expect(shown).to_have_attribute("data-style", "vintage")
    expect(shown.locator("figcaption")).to_have_text("In the Vintage style")
    vintage_src = shown.locator("img").get_attribute("src")
    assert vintage_src not in (noir_src, original_src)
    assert wait_until_loaded(shown.locator("img")) > 0
    screenshot("07-product-variant")

    # The radios are invisible, yet a keyboard user moves between styles with the arrow
    # keys and sees which tab has the focus.
    vintage = variants.get(product=cat_print, style__slug="vintage")
    page.locator(f"#sr-{cat_print.pk}-v{vintage.pk}").focus()
    page.keyboard.press("ArrowLeft")
    expect(shown).to_have_attribute("data-style", "noir")
    noir_tab = tabs.locator(".stylerecs-tab[data-style=noir]")
    assert noir_tab.evaluate("tab => getComputedStyle(tab).outlineStyle") == "solid"

    # A product nobody restyled shows its photo alone, without tabs.
    page.goto(f"{live_server.url}{untouched.get_absolute_url()}")
    switcher = page.locator(f"#sr-{untouched.pk}")
    expect(switcher.locator(".stylerecs-tabs")).to_have_count(0)
    expect(switcher.locator(".stylerecs-panel:visible")).to_have_class(
        re.compile(r"\bstylerecs-panel-original\b")
    )
    assert wait_until_loaded(switcher.locator(".stylerecs-panel-original img")) > 0
    screenshot("08-product-not-restyled")

    page_problems.assert_none()
