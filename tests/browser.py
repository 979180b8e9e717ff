"""Driving Debian's Chromium through Playwright beside Django's live server (shared by the
browser tests): the launch, the `page` fixture, screenshots and axe-core."""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import modify_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
# Screenshots are taken only when SCREENSHOTS_DIR names a folder to look at after a run
# (`screenshots/` is git-ignored): no test reads them, and a full-page capture of each of
# the every-page test's ~170 page visits cost about 0.2 s of its time.
SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR")
# axe-core is not vendored: `npm pack axe-core` and point AXE_CORE_JS at its axe.min.js.
AXE_CORE_JS = os.environ.get("AXE_CORE_JS", "/tmp/axe-core/package/axe.min.js")

browser_marks = [
    pytest.mark.browser,
    pytest.mark.system,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module (its tests get a fresh context each): starting
    Playwright's driver and the browser cost about 2 s a test on this machine."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an event loop in this thread while it is started; the
        # live server's ORM calls happen in its own thread, and the tests' own ORM calls
        # (fixtures included, as the browser starts first) are safe here.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        # Connections are kept per asyncio context: close ours on each side of the event
        # loop's lifetime, or one is left open and the test database cannot be dropped.
        connections.close_all()
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                connections.close_all()


@pytest.fixture(name="page")
def browser_page(chromium):
    # A new context per test: no cookie, storage or cache is carried from the last test.
    context = chromium.new_context(viewport={"width": 1200, "height": 900},
                                   accept_downloads=True)
    try:
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        # axe-core loads with every document, as the browser's own script: the CSP
        # (no inline script) refuses a <script> tag added to the page.
        if os.path.exists(AXE_CORE_JS):
            tab.add_init_script(path=AXE_CORE_JS)
        # What the browser reports on its console: a CSP violation must fail a test.
        tab.console_messages = []
        tab.on("console", lambda message: tab.console_messages.append(message.text))
        yield tab
    finally:
        context.close()


@contextmanager
def module_live_server(django_db_blocker):
    """A live server for a module whose tests share data committed once (the caller seeds
    it inside this block); at the end the database is emptied by the same flush that
    follows a transactional test. pytest-django's `live_server` cannot serve such a
    module: a test naming it is made transactional, and flushed after it."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock(), modify_settings(ALLOWED_HOSTS={"append": "localhost"}):
        server = LiveServer("localhost")
        try:
            yield server
        finally:
            server.stop()
            call_command("flush", verbosity=0, interactive=False, reset_sequences=False,
                         allow_cascade=False, inhibit_post_migrate=False)
            connections.close_all()


def screenshot(page, name: str) -> Path | None:
    """The whole page as SCREENSHOTS_DIR/<name>.png; nothing when SCREENSHOTS_DIR is unset."""
    if not SCREENSHOTS:
        return None
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def csp_violations(page) -> list[str]:
    """The Content-Security-Policy refusals the browser reported so far."""
    return [text for text in page.console_messages if "Content Security Policy" in text]


def axe_violations(page) -> list[str]:
    """axe-core's violations on the current page, one line each (WCAG 2 A and AA rules)."""
    if not os.path.exists(AXE_CORE_JS):
        pytest.skip(f"axe-core not found at {AXE_CORE_JS} (npm pack axe-core; set AXE_CORE_JS)")
    # resultTypes: every rule still runs; only the violations get a selector for each node.
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return result.violations.map(v => v.id + ' (' + v.impact + '): '
            + v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")
