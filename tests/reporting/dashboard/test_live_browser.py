"""In a real browser: a member keeps the dashboard open while a usage event is posted
through the API; the header's balance, the dashboard's cards and the low-balance banner
change without a reload, within the strict Content-Security-Policy."""

import json
import re
import urllib.request
from decimal import Decimal

from accounts.models import Role
from billing.models import AlertSettings
from tests.billing.usage_fixtures import AI_CREDITS, ai_event, api_key_for, funded, seed_prices
from tests.browser import browser_marks, browser_page, chromium, csp_violations, screenshot  # noqa: F401
from tests.conftest import make_member, make_org

pytestmark = browser_marks


def figure(page, test_id) -> Decimal:
    text = page.get_by_test_id(test_id).inner_text()
    return Decimal(re.search(r"-?[\d,]+\.\d+", text).group(0).replace(",", ""))


def post_usage(base, key, event) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/usage-events", data=json.dumps({"events": [event]}).encode(),
        headers={"Authorization": f"Bearer {key.raw_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_the_open_dashboard_follows_usage_posted_through_the_api(
        transactional_db, live_server, page, settings):  # noqa: F811
    settings.LIVE_REFRESH_SECONDS = 1
    org = make_org("acme")
    make_member(org, "member@acme.test", Role.MEMBER)
    seed_prices()
    funded(org, 100)
    AlertSettings.objects.create(organization=org, warning_level=Decimal("99.9"))
    key = api_key_for(org)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "member@acme.test")
    page.fill("#id_password", "pw-123456")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))
    assert figure(page, "header-balance") == figure(page, "dashboard-balance") == Decimal("100")
    assert page.get_by_test_id("banner-low-balance-warning").count() == 0
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    screenshot(page, "live-1-before-usage")

    body = post_usage(live_server.url, key, ai_event("job-1"))
    assert body["results"][0]["status"] == "charged"
    after = Decimal(100) - AI_CREDITS
    page.wait_for_function(
        "text => document.querySelector('[data-testid=header-balance]').innerText.includes(text)",
        arg=f"{after:,.2f}", timeout=10_000)

    assert page.evaluate("window.stillTheSamePage") is True
    assert figure(page, "header-balance") == figure(page, "dashboard-balance") == after
    assert figure(page, "month-spend") == AI_CREDITS
    assert page.get_by_test_id("banner-low-balance-warning").is_visible()
    assert csp_violations(page) == []
    screenshot(page, "live-2-after-usage")
