"""In a real browser: the demo admin buys a package in test mode and the header balance rises."""

import io
import os
import re
from decimal import Decimal

import pytest
from django.db import connections

from accounts import demo
from billing.models import CreditPackage
from billing.purchases.demo import seed_packages_and_purchase

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]


@pytest.fixture
def page(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the live server's ORM
    # calls happen in its own thread, and the test's own ORM calls are safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # Connections are kept per asyncio context: close ours on each side of the event
    # loop's lifetime, or one is left open and the test database cannot be dropped.
    connections.close_all()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.set_default_timeout(15_000)
            yield tab
        finally:
            browser.close()
            connections.close_all()


def header_balance(page) -> Decimal:
    text = page.get_by_test_id("header-balance").inner_text()
    number = re.search(r"-?[\d,]+(\.\d+)?", text).group(0)
    return Decimal(number.replace(",", ""))


def test_demo_admin_buys_a_package_and_sees_the_balance_rise(transactional_db, live_server, page,
                                                           settings):
    settings.PAYMENTS_PROVIDER = "test"
    org = demo.seed_accounts()
    seed_packages_and_purchase(org, io.StringIO())
    package = CreditPackage.objects.get(name="Scale")

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", demo.DEMO_ADMIN)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))
    before = header_balance(page)

    page.get_by_role("link", name="Buy credits").click()
    page.get_by_test_id(f"buy-{package.pk}").click()
    page.wait_for_url(re.compile(r"/test-checkout/$"))
    assert "TEST MODE" in page.content()
    page.get_by_test_id("test-pay").click()
    page.wait_for_url(re.compile(r"/success/$"))

    after = header_balance(page)
    assert after - before == package.base_credits + package.bonus_credits == Decimal("24000")
    page.get_by_role("link", name="Purchases").first.click()
    page.wait_for_url(re.compile(r"/purchases/$"))
    row = page.locator("tbody tr").first
    assert "Scale" in row.inner_text() and "Paid" in row.inner_text()
