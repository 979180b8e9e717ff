"""Staff pages in a real browser: the admin's lists that staff read most, with a search
applied, pass axe-core's WCAG 2 A and AA rules (the admin's own stylesheet
is Django's; ours adds what axe asks of it)."""

import pytest

from billing.demo import organization as demo
from billing.usage.queue.intake import accept_usage
from tests.billing.usage_fixtures import funded, gpu_event, seed_prices
from tests.browser import axe_violations, browser_marks, browser_page, chromium, screenshot  # noqa: F401

pytestmark = browser_marks


@pytest.fixture
def staff_data(transactional_db):
    org = demo.seed_accounts()
    seed_prices()
    funded(org)
    accept_usage(organization=org, events=[gpu_event("queued-1")])
    return org


PAGES = {
    "admin-ledger-search": "/admin/billing/ledgerentry/?q=acme",
    "admin-usage-queue": "/admin/billing/queuedusageevent/?q=queued-1",
    "admin-organizations": "/admin/accounts/organization/?q=acme",
}


def test_staff_lists_pass_axe_with_a_search(staff_data, live_server, page):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", demo.DEMO_ADMIN)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    for name, path in PAGES.items():
        page.goto(f"{live_server.url}{path}")
        assert page.locator("#changelist").count() == 1, name
        screenshot(page, name)
        assert axe_violations(page) == [], name
