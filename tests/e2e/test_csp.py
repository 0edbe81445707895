"""The Content-Security-Policy (django-csp) does not break any page it covers.

A real Chromium opens the storefront (catalogue, sorted, a product page with its style
switcher, for you, the quiz, my style, my data, sign in), the admin (login, index, a
change list, a batch with its live progress) and the Swagger page, and reports every
CSP violation (the ``securitypolicyviolation`` event and Chromium's console error) and
every failed load. Each page must carry the policy and render with none.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from stylerecs.models import GenerationBatch

pytestmark = [pytest.mark.e2e]

PASSWORD = "correct-horse-battery-staple"
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const what = `${e.violatedDirective} blocked ${e.blockedURI || "inline"} ${e.sample || ""}`;
  console.error(`CSP violation on ${location.pathname}: ${what}`);
});
"""


@pytest.fixture
def shop(make_product, make_style, make_variant):
    product = make_product(title="Chelsea print")
    make_product(title="Coffee print")
    noir = make_style("noir")
    make_variant(product, noir)
    make_variant(product, make_style("vintage", source="astronaut"))
    staff = User.objects.create_superuser("curator", "c@example.com", PASSWORD)
    batch = GenerationBatch.objects.create(requested_by=staff, total=1, product_ids=[product.pk])
    batch.styles.set([noir])
    return {"product": product, "batch": batch}


def _open(page, url: str):
    response = page.goto(url)
    assert response.status == 200, url
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "object-src 'none'" in policy, url
    page.wait_for_load_state("networkidle")
    return response


def test_storefront_pages_render_under_the_policy(live_server, shop, page, page_problems):
    page.add_init_script(REPORT_VIOLATIONS)
    product_url = f"{live_server.url}{shop['product'].get_absolute_url()}"

    for path in ("/", "/?sort=price", "/for-you/", "/style-quiz/", "/my-style/", "/my-data/"):
        _open(page, f"{live_server.url}{path}")
    _open(page, product_url)
    # The switcher's per-product <style> (nonce) works: choosing a style shows it.
    page.locator("label.stylerecs-tab", has_text="Vintage").click()
    expect(page.locator("figure.stylerecs-panel-variant[data-style=vintage]")).to_be_visible()
    # The sort menu's script (a file, not onchange=) still submits it.
    _open(page, f"{live_server.url}/")
    page.select_option("#sort", "price")
    page.wait_for_url("**/?sort=price")
    _open(page, f"{live_server.url}/accounts/login/")
    expect(page.locator("form")).to_be_visible()

    page_problems.assert_none()


def test_admin_and_swagger_render_under_the_policy(live_server, shop, page, page_problems):
    page.add_init_script(REPORT_VIOLATIONS)

    _open(page, f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_be_visible()
    for path in (
        "/admin/",
        "/admin/stylerecs/style/",
        "/admin/stylerecs/style/add/",
        f"/admin/stylerecs/generationbatch/{shop['batch'].pk}/change/",
        "/admin/stylerecs/stylizedvariant/",
        "/admin/shop/product/",
    ):
        _open(page, f"{live_server.url}{path}")
    expect(page.locator("#content")).to_be_visible()
    _open(page, f"{live_server.url}/api/docs/")
    # Swagger UI built the page from the schema: its operations are listed.
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10

    page_problems.assert_none()
