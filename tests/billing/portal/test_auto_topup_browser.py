"""In a real browser, with a real worker: the demo admin turns auto-topup on,
simulate_usage drains the balance, the qcluster tops up, and the dashboard shows it."""

import io
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django_q.conf import Conf

from billing.demo import organization as demo
from billing.demo.first_purchase import seed_packages_and_purchase
from billing.demo.price_catalogue import seed_price_catalogue
from billing.demo.saved_card import seed_saved_card
from billing.models import EntryKind, LedgerEntry, TopupAttempt, TopupStatus
from tests.billing.portal.test_purchase_browser import header_balance
from tests.billing.qcluster import ROOT, database_url, wait_for
from tests.browser import browser_marks, browser_page, chromium, screenshot  # noqa: F401

pytestmark = [*browser_marks, pytest.mark.postgres]


def start_worker() -> subprocess.Popen:
    env = {
        "PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings",
        # Tasks are signed with SECRET_KEY: the worker must share the enqueuer's.
        "DEBUG": "False", "SECRET_KEY": django_settings.SECRET_KEY, "DATABASE_URL": database_url(),
        "PAYMENTS_PROVIDER": "test", "ALLOW_TEST_PAYMENTS": "True",
        "SECURE_SSL_REDIRECT": "False", "EMAIL_URL": "consolemail://", "Q_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def stop_worker(worker: subprocess.Popen) -> str:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        return worker.communicate(timeout=5)[0]
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        return worker.communicate()[0]


def test_demo_admin_turns_auto_topup_on_and_the_worker_tops_up(
        transactional_db, live_server, page, settings, monkeypatch):  # noqa: F811
    settings.PAYMENTS_PROVIDER = "test"
    # Tasks go to the ORM queue for the worker below, not run inline as elsewhere in tests.
    monkeypatch.setattr(Conf, "SYNC", False)
    org = demo.seed_accounts()
    out = io.StringIO()
    seed_packages_and_purchase(org, out)
    seed_saved_card(org, out)
    seed_price_catalogue(org, out)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", demo.DEMO_ADMIN)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))
    before = header_balance(page)

    page.get_by_role("link", name="Auto-topup").click()
    assert "Visa ending 4242" in page.get_by_test_id("saved-card").inner_text()
    page.check("#id_enabled")
    page.fill("#id_threshold", str(before - 1))  # the first credit spent crosses it
    page.select_option("#id_package", label="Growth")
    page.check("input[name=mode][value=fixed]")
    page.fill("#id_monthly_cap", "100")
    page.get_by_test_id("save-topup").click()
    assert "Auto-topup settings saved." in page.content()

    worker = start_worker()
    try:
        usage = io.StringIO()
        call_command("simulate_usage", org="acme", days=2, per_day=40, stdout=usage)
        topped_up = wait_for(lambda: TopupAttempt.objects.filter(
            organization=org, status=TopupStatus.SUCCEEDED).exists(), timeout=90)
    finally:
        output = stop_worker(worker)
    assert topped_up, f"{usage.getvalue()}\n{output[-3000:]}"

    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))
    topup = LedgerEntry.objects.get(account__organization=org, kind=EntryKind.TOPUP)
    assert topup.amount == Decimal("5000")
    assert "Auto-topup" in page.locator("main").inner_text()
    assert header_balance(page) > before - 1 + Decimal("5000")
    screenshot(page, "auto_topup_dashboard")
    page.get_by_role("link", name="Auto-topup").click()
    assert "Succeeded" in page.locator("tbody tr").first.inner_text()
    screenshot(page, "auto_topup_page")
