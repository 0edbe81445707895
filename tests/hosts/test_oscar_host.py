"""stylerecs in a django-oscar shop, installed from its wheel, on oscar's own Product.

A minimal oscar shop in a temp folder (tests/hosts/oscar_helpers.py): its own venv with
django-oscar 4 and the stylerecs wheel (torch reused from the development venv), its own
PostgreSQL database, its own Celery app on the test Redis database (a key prefix of its
own), ``STYLERECS_PRODUCT_MODEL = "catalogue.Product"`` and the
``stylerecs.contrib.oscar`` adapter. Then, in a real browser: staff add a style with an
uploaded reference image, generate a variant of
an oscar product in the Django admin through a real worker and approve it, and a shopper
sees it on oscar's product page (oscar's template, its gallery block replaced by the
stylerecs tag) and on the For-you page with oscar's price. Screenshots go to
test-artifacts/hosts/ (prefix oscar-).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT, free_port, sample_jpeg
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

from . import oscar_helpers as oscar

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
ARTIFACTS = ROOT / "test-artifacts" / "hosts"
PASSWORD = "correct-horse-9"
IMAGE_LOADED = "img => img.complete && img.naturalWidth > 0"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The oscar shop, migrated and seeded, served on a free port with a worker."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    folder = tmp_path_factory.mktemp("oscar-shop")
    python = oscar.host_venv(oscar.build_wheel(tmp_path_factory.mktemp("wheel")))
    oscar.write_project(
        folder,
        {
            "cat.jpg": sample_jpeg("chelsea", 320),
            "coffee.jpg": sample_jpeg("coffee", 320),
            "style.jpg": sample_jpeg("astronaut", 256),
        },
    )
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1] + "_oscarhost"
    db_url = oscar.database_url(name)
    oscar.recreate_database(db_url)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STYLERECS_", "MEDIA"))
    }
    env.update(
        DATABASE_URL=db_url,
        HOST_KEY_PREFIX=f"oscarhost-{os.getpid()}:",
        DJANGO_SETTINGS_MODULE="harbour.settings",
        PYTHONUNBUFFERED="1",
    )

    def manage(*args, timeout=600):
        return oscar.run([python, "manage.py", *args], cwd=folder, env=env, timeout=timeout)

    # The host's own checks (stylerecs' included) pass before anything runs.
    manage("check")
    manage("migrate", "--no-input", "-v0")
    out = manage("shell", "-c", "exec(open('seed.py').read())").stdout
    seeded = json.loads(out.strip().splitlines()[-1])  # after the shell's own banner
    procs, logs = [], []
    try:
        for args, log_name in (
            (["-m", "celery", "-A", "harbour", "worker", "--pool", "solo"], "worker.log"),
            (
                ["manage.py", "runserver", f"127.0.0.1:{(port := free_port())}", "--noreload"],
                "web.log",
            ),
        ):
            log = open(folder / log_name, "wb")  # noqa: SIM115 (closed below)
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [str(python), *args],
                    cwd=folder,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, folder)
        yield {"url": url, "folder": folder, "products": seeded, "python": python, "env": env}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for log in logs:
            log.close()
        oscar.drop_database(db_url)


def _wait_until_up(url: str, folder, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/admin/login/") as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the oscar shop did not start:\n{(folder / 'web.log').read_text()}")


def _log(shop, name: str) -> str:
    return (shop["folder"] / name).read_text(errors="replace")[-4000:]


def test_the_adapter_reads_oscars_catalogue_and_strategy(shop):
    products = shop["products"]
    harbour, sold_out = products["Harbour at dawn"], products["Sold-out lighthouse"]

    assert harbour["title"] == "Harbour at dawn"
    assert re.fullmatch(r"/catalogue/harbour-at-dawn_\d+/", harbour["url"])
    assert harbour["price"] == "24.50" and harbour["available"] is True
    assert harbour["image"].endswith(".jpg") and "cat" in harbour["image"]
    assert sold_out["available"] is False  # no stock: oscar's strategy says unavailable
    assert products["bare"]["image"] is None  # oscar's "missing image" is no photo


def test_staff_generate_and_approve_then_the_shopper_sees_it_on_oscars_page(shop):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("oscar-*.png"):
        old.unlink()
    url, harbour = shop["url"], shop["products"]["Harbour at dawn"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            staff = browser.new_page(viewport={"width": 1280, "height": 900})
            staff.set_default_timeout(20_000)

            def shot(page, name):
                page.screenshot(path=str(ARTIFACTS / f"oscar-{name}.png"), full_page=True)

            staff.goto(f"{url}/admin/login/?next=/admin/")
            staff.get_by_label("Username").fill("boss")
            staff.get_by_label("Password").fill(PASSWORD)
            staff.get_by_role("button", name="Log in").click()
            expect(staff).to_have_url(f"{url}/admin/")

            # Staff add a style with an uploaded reference image.
            staff.goto(f"{url}/admin/stylerecs/style/add/")
            staff.locator("#id_name").press_sequentially("Noir")  # admin JS fills the slug
            expect(staff.locator("#id_slug")).to_have_value("noir")
            staff.set_input_files("#id_reference_image", str(shop["folder"] / "style.jpg"))
            staff.select_option("#id_method", "classic")
            staff.locator("input[name=_save]").click()
            expect(staff.locator(".messagelist .success")).to_contain_text("Noir")
            shot(staff, "00-style-added")

            # oscar's Product in the Django admin, with the stylerecs action added.
            staff.goto(f"{url}/admin/catalogue/product/")
            staff.locator(f"input[name=_selected_action][value='{harbour['pk']}']").check()
            staff.locator("select[name=action]").select_option(label="Generate stylized variants…")
            staff.get_by_role("button", name="Go").click()
            expect(staff.locator("#generate-variants-form")).to_contain_text("Harbour at dawn")
            staff.get_by_label("Noir").check()
            shot(staff, "01-style-picker")
            staff.get_by_role("button", name="Generate").click()
            box = staff.locator("#batch-progress")
            try:
                expect(box.locator("[data-field=state]")).to_have_text("finished", timeout=240_000)
            except AssertionError as exc:
                pytest.fail(f"{exc}\n--- worker log ---\n{_log(shop, 'worker.log')}")
            expect(box.locator("[data-count=ready]")).to_have_text("1")
            shot(staff, "02-batch-finished")

            # Review: the variant is named after oscar's product title; approve it.
            box.get_by_role("link", name="Review these variants").click()
            rows = staff.locator("#result_list tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("Harbour at dawn")
            staff.locator("#action-toggle").check()
            staff.locator("select[name=action]").select_option(label="Approve: show to shoppers")
            staff.get_by_role("button", name="Go").click()
            expect(staff.locator(".messagelist")).to_contain_text("1 variant(s) approved")
            shot(staff, "03-approved")

            # The product's own admin page shows the gallery inline beside oscar's.
            staff.goto(f"{url}/admin/catalogue/product/{harbour['pk']}/change/")
            expect(
                staff.locator(".inline-group", has_text="original beside variant")
            ).to_be_visible()

            # oscar's dashboard has the stylerecs menu.
            staff.goto(f"{url}/dashboard/")
            menu = staff.locator("#navbarSupportedContent, nav").get_by_text("Style variants")
            expect(menu.first).to_be_visible()
            review = staff.locator("a[href='/admin/stylerecs/stylizedvariant/']")
            expect(review).to_have_count(1)  # in the menu's dropdown
            shot(staff, "04-dashboard")

            # A shopper (no cookies) on oscar's product page: the original leads, the
            # variant is one tab away; oscar's own price and basket form are there.
            shopper = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            shopper.set_default_timeout(20_000)
            shopper.goto(f"{url}{harbour['url']}")
            expect(shopper.locator(".product_main h1")).to_have_text("Harbour at dawn")
            expect(shopper.locator(".product_main .price_color")).to_contain_text("24.50")
            switcher = shopper.locator(".stylerecs-switcher")
            expect(switcher.locator(".stylerecs-panel:visible figcaption")).to_have_text(
                "Original photo"
            )
            switcher.locator(".stylerecs-tab[data-style=noir]").click()
            variant = switcher.locator(".stylerecs-panel-variant:visible img")
            expect(variant).to_have_count(1)
            shopper.wait_for_function(IMAGE_LOADED, arg=variant.element_handle())
            assert variant.evaluate("img => img.naturalWidth") > 100
            shot(shopper, "05-product-page-variant")

            # For you, in oscar's layout: the product with the price oscar's strategy gives.
            shopper.goto(f"{url}/for-you/")
            card = shopper.locator(".sr-card", has_text="Harbour at dawn")
            expect(card.locator(".price")).to_have_text("£24.50")  # oscar's currency
            expect(shopper.locator(".sr-card", has_text="Sold-out lighthouse")).to_have_count(0)
            shot(shopper, "06-for-you")
        finally:
            browser.close()
