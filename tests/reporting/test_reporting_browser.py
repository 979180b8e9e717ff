"""In a real browser: the demo admin buys credits, then reads transactions, an entry, the
monthly summary and downloads both CSVs; a member reads the same pages without admin
actions. Every page is checked by axe-core (and screenshotted when SCREENSHOTS_DIR is set)."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.demo import organization as demo
from billing.demo.first_purchase import seed_packages_and_purchase
from billing.models import CreditPackage
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import ai_event, gpu_event, seed_prices
from tests.browser import axe_violations, browser_marks, browser_page, chromium, screenshot  # noqa: F401

pytestmark = browser_marks


def header_balance(page) -> Decimal:
    text = page.get_by_test_id("header-balance").inner_text()
    return Decimal(re.search(r"-?[\d,]+\.\d+", text).group(0).replace(",", ""))


def log_in(page, base, email):
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))


def check(page, name):
    screenshot(page, name)
    assert axe_violations(page) == [], name


def download(page, test_id) -> list[dict]:
    with page.expect_download() as info:
        page.get_by_test_id(test_id).click()
    text = open(info.value.path(), encoding="utf-8").read()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def demo_org(transactional_db, settings):
    settings.PAYMENTS_PROVIDER = "test"
    org = demo.seed_accounts()
    seed_packages_and_purchase(org, io.StringIO())
    seed_prices()
    now = timezone.now()
    for days_ago in range(0, 12):
        when = now - timedelta(days=days_ago)
        record_usage(organization=org, now=when, events=[
            ai_event(f"a{days_ago}", operation="chat", user="ana@example.com",
                     input_tokens=20_000 * (days_ago % 4 + 1), output_tokens=3_000),
            gpu_event(f"g{days_ago}", quantity=str(600 + 90 * days_ago), operation="train"),
        ])
    return org


def test_admin_buys_then_reads_and_exports_the_reports(demo_org, live_server, page):
    base = live_server.url
    log_in(page, base, demo.DEMO_ADMIN)
    before = header_balance(page)
    check(page, "admin-1-dashboard")

    package = CreditPackage.objects.get(name="Scale")
    page.get_by_test_id("buy-credits").click()
    page.get_by_test_id(f"buy-{package.pk}").click()
    page.wait_for_url(re.compile(r"/test-checkout/$"))
    page.get_by_test_id("test-pay").click()
    page.wait_for_url(re.compile(r"/success/$"))
    assert header_balance(page) - before == package.base_credits + package.bonus_credits

    page.get_by_role("link", name="Transactions").first.click()
    page.wait_for_url(re.compile(r"/transactions/$"))
    check(page, "admin-2-transactions")
    page.select_option("#id_kind", "purchase")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"kind=purchase"))
    rows = page.locator("table.transactions tbody tr")
    assert rows.count() == 2 and "Purchase" in rows.first.inner_text()
    check(page, "admin-3-transactions-filtered")
    exported = download(page, "transactions-csv")
    assert len(exported) == 2 and {r["kind"] for r in exported} == {"purchase"}

    rows.first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/entries/\d+/$"))
    assert "Stripe Checkout Session" in page.content()
    assert "24,000.000000" in page.get_by_test_id("entry-amount").inner_text() or (
        "20,000.000000" in page.get_by_test_id("entry-amount").inner_text())
    check(page, "admin-4-entry-purchase")

    page.goto(f"{base}/o/acme/transactions/?kind=usage")
    page.locator("table.transactions tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/entries/\d+/$"))
    # A day's two events were one charge: the entry lists them (axe-checked too).
    assert page.get_by_test_id("charge-events").is_visible()
    assert "What was used: 2 events" in page.content()
    check(page, "admin-5-entry-usage")

    page.get_by_role("link", name="Monthly summary").first.click()
    page.wait_for_url(re.compile(r"/reports/monthly/$"))
    assert page.locator("svg.chart").count() == 3
    check(page, "admin-6-monthly-summary")
    summary = download(page, "summary-csv")
    total = next(r for r in summary if r["section"] == "total")
    shown = page.get_by_test_id("summary-credits").inner_text()
    assert Decimal(total["credits"]).quantize(Decimal("0.01")) == Decimal(shown.replace(",", ""))

    page.goto(f"{base}/admin/")
    page.get_by_role("link", name="Monthly usage across organisations").click()
    page.wait_for_url(re.compile(r"/staff/reports/monthly/$"))
    check(page, "staff-1-monthly-across-orgs")


def test_member_reads_everything_without_admin_actions(demo_org, live_server, page):
    base = live_server.url
    log_in(page, base, demo.DEMO_MEMBER)
    assert page.get_by_test_id("buy-credits").count() == 0
    check(page, "member-1-dashboard")
    for path, name in (("transactions/", "member-2-transactions"),
                       ("reports/monthly/", "member-3-monthly-summary")):
        page.goto(f"{base}/o/acme/{path}")
        assert page.locator("form[method=post]").count() == 1  # the header's log-out only
        check(page, name)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    for path, name in (("", "member-4-phone-dashboard"),
                       ("transactions/", "member-5-phone-transactions"),
                       ("reports/monthly/", "member-6-phone-monthly-summary")):
        page.goto(f"{base}/o/acme/{path}")
        check(page, name)
    page.goto(f"{base}/staff/reports/monthly/")
    assert "/admin/login/" in page.url
