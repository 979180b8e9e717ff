"""Every portal page and every admin list, at a laptop's size (1366x900) and a phone's
(390x844), in a real browser on the demo's data: axe-core's WCAG 2 A and AA rules pass,
and on the phone no page is wider than the screen (docs/architecture.md, "The portal on a phone").
The demo is seeded once for the module; the pages' addresses are read from it then, so a
test's clicks (a checkout started and cancelled) change no other test's pages.
With SCREENSHOTS_DIR set, screenshots land there, named by size and page: look at them."""

import io
import re
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.test import override_settings
from django.urls import reverse

from accounts.invitations import invite_member
from accounts.models import Role, User
from accounts.services import create_api_key
from billing.demo import organization as demo
from billing.demo.steps import DEMO_STEPS
from billing.models import LedgerEntry, Purchase
from tests.browser import (  # noqa: F401
    axe_violations,
    browser_marks,
    browser_page,
    chromium,
    csp_violations,
    module_live_server,
    screenshot,
)

# django_db: pytest-django creates the test database only for tests that ask for one; each
# test's transaction (it writes nothing itself) is rolled back, the module's data stays.
pytestmark = [*browser_marks, pytest.mark.django_db]

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@dataclass(frozen=True)
class Site:
    url: str
    portal: dict[str, str]  # page name: path, for the demo admin
    admin: dict[str, dict[str, str]]  # part (admin_pages): page name: path


def seed_demo():
    """The demo as `seed_demo` leaves it, with a pending invitation and an API key."""
    org = demo.seed_accounts()
    for step in DEMO_STEPS:
        step(org, io.StringIO())
    admin_user = User.objects.get(email=demo.DEMO_ADMIN)
    invite_member(organization=org, email="new.colleague@example.com", role=Role.MEMBER,
                  invited_by=admin_user)
    create_api_key(organization=org, name="Training cluster", created_by=admin_user)
    return org


@pytest.fixture(scope="module")
def site(chromium, django_db_setup, django_db_blocker):  # noqa: F811
    """The demo, seeded and committed once for the module's tests (seeding it took a few
    seconds a test), served by a live server of the module's own. Started after the
    browser: the server then shares the tests' own connection to an in-memory SQLite,
    whose transaction (taken at once, IMMEDIATE) would otherwise lock it out."""
    with override_settings(PAYMENTS_PROVIDER="test"), \
            module_live_server(django_db_blocker) as server:
        org = seed_demo()
        yield Site(url=server.url, portal=portal_pages(org), admin=admin_pages())


def log_in(page, base, email):
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def problems(page, size: str, name: str) -> list[str]:
    """What is wrong with the page on screen: axe's violations, sideways scrolling on a
    phone, CSP refusals. The screenshot is saved first."""
    screenshot(page, f"{size}-{name}")
    found = axe_violations(page)
    if size == "phone" and (wider := overflow(page)) > 0:
        found.append(f"scrolls sideways by {wider} px")
    return found + csp_violations(page)


def portal_pages(org) -> dict[str, str]:
    usage = LedgerEntry.objects.filter(account__organization=org, kind="usage").latest("id")
    bought = LedgerEntry.objects.filter(account__organization=org, kind="purchase").latest("id")
    purchase = Purchase.objects.filter(organization=org).latest("id")
    member = org.memberships.exclude(user__email=demo.DEMO_ADMIN).earliest("id")
    key = org.api_keys.filter(revoked_at__isnull=True).earliest("id")
    o = f"/o/{org.slug}"
    return {
        "dashboard": f"{o}/",
        "transactions": f"{o}/transactions/",
        "transactions-filtered": f"{o}/transactions/?kind=usage&resource=gpt",
        "entry-usage": f"{o}/entries/{usage.pk}/",
        "entry-purchase": f"{o}/entries/{bought.pk}/",
        "usage": f"{o}/usage/",
        "monthly": f"{o}/reports/monthly/",
        "packages": f"{o}/credits/packages/",
        "purchases": f"{o}/purchases/",
        "purchase-success": f"{o}/purchases/{purchase.pk}/success/",
        "auto-topup": f"{o}/auto-topup/",
        "alerts": f"{o}/alerts/",
        "budgets": f"{o}/budgets/",
        "members": f"{o}/members/",
        "remove-member-confirm": reverse("remove_member", args=[org.slug, member.pk]),
        "api-keys": f"{o}/api-keys/",
        "revoke-key-confirm": reverse("revoke_api_key", args=[org.slug, key.pk]),
        "settings-history": f"{o}/settings/history/",
        "security": "/account/security/",
        "staff-monthly": "/staff/reports/monthly/",
    }


@pytest.mark.parametrize("size", SIZES)
def test_every_portal_page_passes_axe_and_fits_the_screen(site, page, size):
    base = site.url
    page.set_viewport_size(SIZES[size])
    failures = {}

    def check(name):
        if found := problems(page, size, name):
            failures[name] = found

    page.goto(f"{base}/login/")
    check("login")
    page.goto(f"{base}/password-reset/")
    check("password-reset")
    log_in(page, base, demo.DEMO_ADMIN)
    for name, path in site.portal.items():
        page.goto(f"{base}{path}")
        check(name)

    # The pages reached by a button: the test checkout, its cancel page, the test card.
    page.goto(f"{base}/o/acme/credits/packages/")
    page.locator("[data-testid^=buy-]").first.click()
    page.wait_for_url(re.compile(r"/test-checkout/$"))
    check("test-checkout")
    page.get_by_test_id("test-cancel").click()
    page.wait_for_url(re.compile(r"/cancel/$"))
    check("purchase-cancel")
    page.goto(f"{base}/o/acme/auto-topup/")
    page.get_by_role("button", name="Replace card").click()
    page.wait_for_url(re.compile(r"/card/test/$"))
    check("test-card")
    assert failures == {}


@pytest.mark.parametrize("size", SIZES)
def test_the_phone_folds_the_navigation_and_the_filters(site, page, size):
    """The organisation's links and the transaction filters take one line each until
    opened, on a phone; on a laptop the links are all in sight."""
    base = site.url
    page.set_viewport_size(SIZES[size])
    log_in(page, base, demo.DEMO_ADMIN)
    nav_link = page.locator("nav.nav").get_by_role("link", name="Settings history")
    if size == "desktop":
        assert nav_link.is_visible()
        return
    assert not nav_link.is_visible()
    page.locator("details.menu > summary").click()
    assert nav_link.is_visible()
    nav_link.click()
    page.wait_for_url(re.compile(r"/settings/history/$"))

    page.goto(f"{base}/o/acme/transactions/?kind=usage")
    summary = page.locator("form.filters summary")
    assert "Kind: Usage" in summary.inner_text()
    assert not page.locator("#id_resource").is_visible()
    summary.click()
    assert page.locator("#id_resource").is_visible()


def test_the_transactions_table_fits_its_page_on_a_laptop(site, page):
    page.set_viewport_size(SIZES["desktop"])
    log_in(page, site.url, demo.DEMO_ADMIN)
    page.goto(f"{site.url}/o/acme/transactions/")
    wrap = page.locator(".table-wrap").first
    widths = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
    assert widths[0] <= widths[1], f"the table is {widths[0]} px in a {widths[1]} px page"


def admin_part(meta) -> str:
    if meta.app_label != "billing":
        return "other lists"
    return "billing lists a-k" if meta.model_name < "l" else "billing lists l-z"


def admin_pages() -> dict[str, dict[str, str]]:
    """The admin's index and lists, and the change page of each list's first row: about
    80 pages in four parts of similar cost (billing's 26 lists in two, the other apps' 16,
    the change pages), one test each, so that two workers can share them."""
    parts = {"billing lists a-k": {}, "billing lists l-z": {},
             "other lists": {"admin-index": "/admin/"}, "change pages": {}}
    for model in admin.site._registry:
        meta = model._meta
        parts[admin_part(meta)][f"admin-{meta.app_label}-{meta.model_name}"] = (
            f"/admin/{meta.app_label}/{meta.model_name}/")
        first = model.objects.order_by("pk").first()
        if first is not None:
            parts["change pages"][f"admin-{meta.app_label}-{meta.model_name}-change"] = (
                f"/admin/{meta.app_label}/{meta.model_name}/{first.pk}/change/")
    return parts


@pytest.mark.parametrize("part", ["billing lists a-k", "billing lists l-z", "other lists",
                                  "change pages"])
@pytest.mark.parametrize("size", SIZES)
def test_every_admin_page_passes_axe(site, page, size, part):
    base = site.url
    page.set_viewport_size(SIZES[size])
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", demo.DEMO_ADMIN)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{base}/admin/")
    assert len(site.admin[part]) >= 10  # not a part left empty (the demo fills the lists)
    failures = {}
    for name, path in site.admin[part].items():
        page.goto(f"{base}{path}")
        screenshot(page, f"{size}-{name}")
        if found := axe_violations(page):
            failures[name] = found
    assert failures == {}
