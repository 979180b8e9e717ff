"""In a real browser: the demo admin sets a budget for an API key and for a user who is not
a member, sees a refused limit at its line, sees this month's use, and clears a budget; a
member reads the page without forms. Each state is checked by axe-core (and screenshotted
when SCREENSHOTS_DIR is set)."""

import re

import pytest

from billing.demo import organization as demo
from billing.models import Budget
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import GPU_CREDITS, api_key_for, funded, gpu_event, seed_prices
from tests.browser import axe_violations, browser_marks, browser_page, chromium, screenshot  # noqa: F401

pytestmark = browser_marks


def log_in(page, base, email):
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))


def check(page, name):
    screenshot(page, name)
    assert axe_violations(page) == [], name


def test_an_admin_sets_budgets_and_a_member_reads_them(transactional_db, live_server,
                                                       page):  # noqa: F811
    org = demo.seed_accounts()
    seed_prices()
    funded(org, 100)
    key = api_key_for(org, name="batch-jobs")
    prefix = key.api_key.prefix
    base = live_server.url
    log_in(page, base, demo.DEMO_ADMIN)
    page.get_by_role("link", name="Budgets").click()
    page.wait_for_url(re.compile(r"/o/acme/budgets/$"))
    check(page, "budgets-empty")

    row = page.get_by_test_id(f"budget-api_key-{prefix}")
    row.get_by_label("Monthly budget of batch-jobs (credits)").fill("-5")
    row.get_by_role("button", name="Set").click()
    row = page.get_by_test_id(f"budget-api_key-{prefix}")
    assert "greater than or equal to 0" in row.inner_text()
    check(page, "budgets-refused-limit")
    assert not Budget.objects.exists()

    row.get_by_label("Monthly budget of batch-jobs (credits)").fill("20")
    row.get_by_role("button", name="Set").click()
    assert "Budget of API key batch-jobs saved." in page.inner_text("main")

    form = page.get_by_test_id("new-user-budget")
    form.get_by_label("User's email").fill("contractor@elsewhere.test")
    form.get_by_label("Monthly budget (credits)").fill("500")
    form.get_by_role("button", name="Set budget").click()
    assert "Budget of contractor@elsewhere.test saved." in page.inner_text("main")

    record_usage(organization=org, api_key=key.api_key, events=[gpu_event("g1")])
    page.reload()
    row = page.get_by_test_id(f"budget-api_key-{prefix}")
    assert f"{GPU_CREDITS}" in row.inner_text() and "(36%)" in row.inner_text()
    contractor = page.get_by_test_id("budget-user-contractor@elsewhere.test")
    assert "not a member" in contractor.inner_text() and "500.00" in contractor.inner_text()
    check(page, "budgets-set")

    contractor.get_by_role("button", name="Clear the budget of contractor@elsewhere.test").click()
    assert "Budget of contractor@elsewhere.test cleared." in page.inner_text("main")
    assert list(Budget.objects.values_list("monthly_limit", flat=True)) == [20]

    page.get_by_role("button", name="Log out").click()
    log_in(page, base, demo.DEMO_MEMBER)
    page.goto(f"{base}/o/acme/budgets/")
    assert "Only admins of this organisation can change budgets." in page.inner_text("main")
    assert page.locator("input[name=monthly_limit]").count() == 0
    check(page, "budgets-member")


@pytest.fixture(autouse=True)
def _test_payments(settings):
    settings.PAYMENTS_PROVIDER = "test"
