"""Staff set up an experiment in the admin; shoppers of both arms browse; the report
shows their numbers.

A real Chromium against the live server: staff add the experiment with its two arms
(the shopper's style vs original photos) and the plan, read how many shoppers it needs,
start it; two signed-in shoppers, one per arm, browse For you, open a product, and one
buys it; staff reload the experiment and read the per-arm report and its plot.
Screenshots go to test-artifacts/e2e/ (prefix 13-).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from stylerecs.assignment import bucket, pick_arm
from stylerecs.models import Experiment, Impression, ProductStyleProfile
from stylerecs.services.preferences import preferences_set
from stylerecs.shoppers import Shopper
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e]
SCREENSHOT_PREFIX = "13-"
PASSWORD = "correct-horse-battery-staple"


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Log in")).click()


def test_staff_set_up_an_experiment_and_read_both_arms_numbers(
    transactional_db,
    live_server,
    make_product,
    make_style,
    make_variant,
    browser,
    page,
    page_problems,
    screenshot,
    settings,
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    noir = make_style("noir", source="camera")
    products = [make_product(title=f"Poster {i}") for i in range(4)]
    for product in products:
        make_variant(product, noir)
        # Every product suits noir: For-you cards lead with the style where it suits.
        ProductStyleProfile.objects.create(product=product, affinities={str(noir.pk): 0.5})
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    base = live_server.url

    # --- staff: the experiment, its arms and plan, in the admin ---
    sign_in(page, base, "boss")
    page.goto(f"{base}/admin/stylerecs/experiment/add/")
    page.locator("#id_name").fill("Styled photos")
    page.locator("#id_name").press("Tab")
    page.locator("#id_baseline_conversion").fill("0.1")
    page.locator("#id_minimum_detectable_effect").fill("0.05")
    page.locator("#id_arms-0-name").fill("Control")
    page.locator("#id_arms-0-name").press("Tab")
    page.locator("#id_arms-0-is_control").check()
    page.locator("#id_arms-1-name").fill("Original photos")
    page.locator("#id_arms-1-name").press("Tab")
    page.locator("#id_arms-1-variants").select_option("original")
    # The admin's own script fills the slugs in from the names.
    expect(page.locator("#id_slug")).to_have_value("styled-photos")
    expect(page.locator("#id_arms-1-slug")).to_have_value("original-photos")
    screenshot("13-01-experiment-form")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    plan = page.locator(".field-plan")
    expect(plan).to_contain_text("shoppers per arm to detect a change of 5.0 points")
    screenshot("13-02-plan")
    page.get_by_role("button", name="Save and start the experiment").click()
    expect(page.locator(".messagelist")).to_contain_text("Styled photos started")
    experiment = Experiment.objects.get(slug="styled-photos")
    assert experiment.status == "running"

    # --- two shoppers, one per arm (the hash decides; we pick accounts that land so) ---
    arms = list(experiment.arms.all())
    by_arm: dict[str, User] = {}
    for i in range(200):
        slug = pick_arm(arms, bucket(salt=experiment.salt, shopper_key=f"u:{i + 1000}")).slug
        if slug not in by_arm:
            by_arm[slug] = User.objects.create_user(
                f"shopper-{slug}", password=PASSWORD, id=i + 1000
            )
        if len(by_arm) == 2:
            break
    for user in by_arm.values():
        preferences_set(shopper=Shopper.for_user(user), weights={noir.pk: 1.0})

    for slug, user in by_arm.items():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        shop = context.new_page()
        sign_in(shop, base, user.username)
        shop.goto(f"{base}/for-you/")
        cards = shop.locator(".sr-card")
        expect(cards).to_have_count(4)
        tags = shop.locator(".sr-style-tag")
        expect(tags).to_have_count(4 if slug == "control" else 0)
        shop.screenshot(path=str(ARTIFACTS / f"13-03-for-you-{slug}.png"), full_page=True)
        cards.first.locator("a").click()
        expect(shop.locator("h1")).to_be_visible()
        if slug == "control":
            shop.get_by_role("button", name="Add to cart").click()
            shop.goto(f"{base}/checkout/")
            shop.get_by_role("button", name="Place order").click()
            expect(shop.locator("body")).to_contain_text("Thank")
        shop.screenshot(path=str(ARTIFACTS / f"13-04-shopper-{slug}.png"), full_page=True)
        context.close()

    # --- staff: the report ---
    page.goto(f"{base}/admin/stylerecs/experiment/{experiment.pk}/change/")
    report = page.locator("#experiment-report")
    expect(report).to_be_visible()
    for slug in ("control", "original-photos"):
        row = report.locator(f"tr[data-arm={slug}]")
        expect(row.locator("[data-metric=shoppers]")).to_have_text("1")
        impressions = Impression.objects.filter(arm__slug=slug).count()
        assert impressions >= 5  # 4 cards and a product page
        expect(row.locator("[data-metric=impressions]")).to_have_text(str(impressions))
        expect(row.locator("[data-metric=clicks]")).to_have_text("1")
    control = report.locator("tr[data-arm=control]")
    expect(control.locator("[data-metric=conversion]")).to_have_text("100.0%")
    original = report.locator("tr[data-arm=original-photos]")
    expect(original.locator("[data-metric=conversion]")).to_have_text("0.0%")
    expect(control.locator("[data-metric=revenue]")).to_have_text("10.00")
    expect(report).to_contain_text("Too early to read")
    expect(report.locator("svg.stylerecs-forest")).to_be_visible()
    report.scroll_into_view_if_needed()
    screenshot("13-05-report")
    page_problems.assert_none()
