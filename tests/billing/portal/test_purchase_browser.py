"""In a real browser: the demo admin buys a package in test mode and the header balance rises."""

import io
import re
from decimal import Decimal

from billing.demo import organization as demo
from billing.demo.first_purchase import seed_packages_and_purchase
from billing.models import CreditPackage
from tests.browser import browser_marks, browser_page, chromium  # noqa: F401

pytestmark = browser_marks


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
