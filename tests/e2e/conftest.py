"""A real browser for the e2e tests: Debian's headless Chromium driven by Playwright.

The browser is never downloaded (no ``playwright install``): it is the system package,
``/usr/bin/chromium`` unless ``CHROMIUM`` says otherwise (see ``make browser``).
Pages are served by pytest-django's ``live_server`` (static files included; media
because the test environment sets ``SERVE_MEDIA=1``), and variants are made by the real
Celery worker of tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
# Playwright waits (milliseconds): generous, because CI machines are small, but bounded.
ACTION_TIMEOUT_MS = 20_000
NAVIGATION_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium per test module.

    Playwright's sync API keeps an asyncio loop running in this thread for as long as it
    is started, and Django refuses ORM calls from a thread with a running loop
    (SynchronousOnlyOperation). The tests do run synchronously, one statement after the
    other, so the guard is lifted here, for exactly the time Playwright runs, and never
    in the settings or the environment of a deployed site.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield browser
            finally:
                browser.close()


class PageProblems:
    """What went wrong in the page while a test drove it: JS errors and failed loads."""

    # Chromium asks every site for a favicon: the shop has one, so a 404 for it counts.
    IGNORED_PATHS: tuple[str, ...] = ()

    def __init__(self, page) -> None:
        self.items: list[str] = []
        page.on("pageerror", lambda error: self.items.append(f"JS error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _failed(self, request) -> None:
        # net::ERR_ABORTED is the browser cancelling a load itself, because the page went
        # on (a submitted form, a redirect, a refresh) before a stylesheet or icon of the
        # page it left had arrived (three tests of one fresh-clone run failed on it).
        # A load that failed on the server's side is an HTTP status (_response) or
        # another net:: error, and still counts.
        if request.failure != "net::ERR_ABORTED":
            self.items.append(f"request failed: {request.url} {request.failure}")

    def _console(self, message) -> None:
        # A failed load is reported with its URL by _response; the console line has none.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.items.append(f"console: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400 and not response.url.endswith(self.IGNORED_PATHS):
            self.items.append(f"HTTP {response.status}: {response.url}")

    def assert_none(self) -> None:
        assert not self.items, "problems in the browser:\n" + "\n".join(self.items)


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh browser context (no cookies) and page, desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page_problems(page) -> PageProblems:
    """Collects JS errors and failed loads of ``page``; call ``assert_none()`` at the end."""
    return PageProblems(page)


_CLEANED: set[str] = set()


@pytest.fixture
def screenshot(page, request):
    """``screenshot("01-login")`` saves a full-page PNG under test-artifacts/e2e/.

    The previous run's screenshots are removed first, so that what a failed run leaves
    there is only what it saw. A test module that sets ``SCREENSHOT_PREFIX`` (its
    screenshots' names all start with it) removes only its own, so that the modules of
    one session keep each other's.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = getattr(request.module, "SCREENSHOT_PREFIX", "")
    if prefix not in _CLEANED:  # once per session: a module's tests keep each other's
        _CLEANED.add(prefix)
        for old in ARTIFACTS.glob(f"{prefix}*.png"):
            old.unlink()

    def save(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
