"""stylerecs installed from its wheel into a fresh Django shop that is not the demo.

The shop (``startproject myshop``, ``startapp catalog`` with its own product model,
base.html and product page) gets stylerecs exactly as README's install section says,
in a new virtualenv holding the wheel; then its own Celery worker and server run, and a
real browser does what staff and a shopper do: add a style with an uploaded image in
the admin, generate variants through the worker, approve them, and see the variant on
the shop's product page; /api/schema/ answers and /api/docs/ renders.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import sample_jpeg

from .harness import ARTIFACTS, host_env, make_venv, readme_commands
from .plain_shop import create_plain_shop, install_stylerecs, photo_product_script

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SCREENSHOTS = ARTIFACTS / "plain"
GENERATION_TIMEOUT_MS = 120_000


def worker_command(commands: list[str]) -> str:
    """README's CPU-only worker command (the host's settings say CPU_ONLY)."""
    (command,) = {c for c in commands if c.startswith("celery -A myshop worker -Q default")}
    return command


@pytest.fixture
def plain_shop(tmp_path, stylerecs_wheel, host_services):
    database_url, broker_url, prefix = host_services
    var = tmp_path / "var"
    var.mkdir()
    venv = make_venv(tmp_path / "venv", stylerecs_wheel)
    env = host_env(
        database_url=database_url,
        broker_url=broker_url,
        var=var,
        HOST_REDIS_PREFIX=prefix,
        DJANGO_SUPERUSER_PASSWORD="staff-pw-123",
    )
    host = create_plain_shop(tmp_path / "myshop", venv, env)
    install_stylerecs(host)
    try:
        yield host
    finally:
        host.stop()


def test_fresh_shop_installs_wheel_and_curates_variants_in_the_browser(plain_shop, tmp_path):
    from playwright.sync_api import expect

    from tests.e2e.conftest import PageProblems

    from .harness import browser_page

    host = plain_shop
    commands = readme_commands()
    assert "python manage.py migrate" in commands
    for command in commands:
        if command.startswith("python manage.py"):
            host.run(command)
    check = host.manage("check")
    assert "stylerecs." not in check.stdout + check.stderr  # the README's host is clean
    location = host.venv.assert_imports_wheel()
    assert location.is_relative_to(host.venv.path)

    photo = tmp_path / "coffee.jpg"
    photo.write_bytes(sample_jpeg("coffee", side=320))
    product_id = int(
        host.manage(
            "shell", "-c", photo_product_script(photo, title="Morning coffee", slug="coffee")
        ).stdout.split()[-1]
    )
    host.manage("createsuperuser", "--noinput", "--username", "staff", "--email", "s@acme.test")
    reference = tmp_path / "noir-reference.jpg"
    reference.write_bytes(sample_jpeg("camera", side=320))

    host.start_worker(worker_command(commands), log=tmp_path / "worker.log")
    base = host.start_server(log=tmp_path / "server.log")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()

    with browser_page() as page:
        problems = PageProblems(page)

        def shot(name: str) -> None:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

        # Staff log in to the shop's own admin.
        page.goto(f"{base}/admin/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", "staff-pw-123")
        page.locator("input[type=submit]").click()
        expect(page.locator("#content-main")).to_contain_text("Style recommendations")

        # Add a style with an uploaded reference image (this used to answer 500).
        page.goto(f"{base}/admin/stylerecs/style/add/")
        page.locator("#id_name").press_sequentially("Noir")  # typed: admin JS listens to keys
        expect(page.locator("#id_slug")).to_have_value("noir")  # prepopulated by admin JS
        page.set_input_files("#id_reference_image", str(reference))
        page.select_option("#id_method", "classic")
        page.fill("#id_strength", "0.9")
        shot("01-add-style")
        page.locator("input[name=_save]").click()
        expect(page.locator(".messagelist .success")).to_contain_text("Noir")
        shot("02-style-saved")

        # Generate the product's variant in that style through the host's worker.
        page.goto(f"{base}/admin/catalog/product/")
        page.locator(f"input[name=_selected_action][value='{product_id}']").check()
        page.locator("select[name=action]").select_option(label="Generate stylized variants…")
        page.get_by_role("button", name="Go").click()
        page.get_by_label("Noir").check()
        page.get_by_role("button", name="Generate").click()
        box = page.locator("#batch-progress")
        try:
            expect(box.locator("[data-field=state]")).to_have_text(
                "finished", timeout=GENERATION_TIMEOUT_MS
            )
        except AssertionError as exc:
            shot("03-batch")
            log = (tmp_path / "worker.log").read_text(errors="replace")[-4000:]
            pytest.fail(f"{exc}\n--- end of the host worker's log ---\n{log}")
        box = page.locator("#batch-progress")
        expect(box.locator("[data-count=ready]")).to_have_text("1")
        expect(box.locator("[data-count=failed]")).to_have_text("0")
        shot("03-batch-finished")

        # Approve it.
        box.get_by_role("link", name="Review these variants").click()
        page.locator("#action-toggle").check()
        page.locator("select[name=action]").select_option(label="Approve: show to shoppers")
        page.get_by_role("button", name="Go").click()
        expect(page.locator(".messagelist")).to_contain_text("1 variant(s) approved.")
        shot("04-approved")

        # A shopper (no cookies) sees the variant on the shop's own product page.
        page.context.clear_cookies()
        page.goto(f"{base}/products/coffee/")
        expect(page.get_by_role("heading", name="Morning coffee")).to_be_visible()
        expect(page.locator("header")).to_contain_text("Acme prints")  # the host's base.html
        switcher = page.locator(".stylerecs-switcher")
        switcher.locator(".stylerecs-tab[data-style=noir]").click()
        shown = switcher.locator(".stylerecs-panel:visible")
        expect(shown).to_have_count(1)
        expect(shown).to_have_attribute("data-style", "noir")
        expect(shown.locator("figcaption")).to_have_text("In the Noir style")
        src = shown.locator("img").get_attribute("src")
        # The variant itself, or one of its responsive renditions (made by the worker).
        assert re.match(r"^/media/stylerecs/(variants|renditions)/", src), src
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=shown.locator("img").element_handle()
        )
        shot("05-shopper-product-page")

        # The API's schema and Swagger UI, in a host without any schema settings.
        schema = page.request.get(f"{base}/api/schema/")
        assert schema.status == 200
        assert "/api/styles/" in schema.text()
        page.goto(f"{base}/api/docs/")
        expect(page.locator(".swagger-ui .opblock-tag").first).to_be_visible()
        expect(page.locator(".swagger-ui")).to_contain_text("/api/styles/")
        shot("06-api-docs")

        problems.assert_none()
    assert Path(SCREENSHOTS / "05-shopper-product-page.png").stat().st_size > 10_000
