"""Issue 26, findings 5 and deliver 6: the portal's security headers and no-store money pages."""

import re

import pytest
from django.urls import reverse

from config.security_headers import PERMISSIONS_POLICY
from tests.billing.postings import grant

pytestmark = pytest.mark.django_db


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in re.split(r";\s*", header) if d.strip()}


@pytest.mark.parametrize("path", ["/login/", "/password-reset/", "/o/acme/", "/admin/login/"])
def test_every_page_sends_a_strict_csp_and_the_other_headers(client, admin_client, org, path):
    browser = admin_client if path.startswith("/o/") else client
    response = browser.get(path)
    assert response.status_code == 200
    policy = csp_of(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert (
        response["Permissions-Policy"] == PERMISSIONS_POLICY and "camera=()" in PERMISSIONS_POLICY
    )
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def money_pages(org):
    entry = grant(org, 10).entry
    return [
        reverse("dashboard", args=["acme"]),
        reverse("transactions", args=["acme"]),
        reverse("transactions_csv", args=["acme"]),
        reverse("entry_detail", args=["acme", entry.pk]),
        reverse("monthly_summary", args=["acme"]),
        reverse("monthly_summary_csv", args=["acme"]),
        reverse("usage", args=["acme"]),
        reverse("api_keys", args=["acme"]),
        reverse("purchases", args=["acme"]),
    ]


def test_money_pages_are_never_stored(admin_client, org):
    for url in money_pages(org):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        cache_control = response["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, url


def test_no_template_carries_inline_script_or_style():
    """What the CSP refuses would break silently in the browser: keep templates clean."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if "emails" not in path.parts
        and re.search(r"<script(?![^>]*\bsrc=)|\sstyle=|<style|\son[a-z]+=", path.read_text())
    ]
    assert offenders == []
