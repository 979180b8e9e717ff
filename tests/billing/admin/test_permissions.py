"""Staff money powers need their own permission: without it 403, nothing posted or sent."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from billing.models import CreditAccount, LedgerEntry
from tests.billing.postings import consume, grant
from tests.billing.purchase_fixtures import balance

pytestmark = pytest.mark.django_db


def _staff(client, user, *codenames):
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def _adjust_url(org):
    return f"/admin/billing/creditaccount/{CreditAccount.objects.get(organization=org).pk}/adjust/"


def test_staff_without_the_permission_cannot_post_an_adjustment(client, admin_user, org):
    staff = _staff(client, admin_user, "view_creditaccount")
    response = staff.post(_adjust_url(org), {"credits": "1000000", "reason": "free money",
                                             "request_id": "5d1f1c1e-0000-4000-8000-0000000000a1"})
    assert response.status_code == 403
    assert staff.get(_adjust_url(org)).status_code == 403
    assert not LedgerEntry.objects.exists()


def test_staff_without_the_permission_cannot_reverse(client, admin_user, org):
    grant(org, 10)
    usage = consume(org, 3, key="usage:1").entry
    staff = _staff(client, admin_user, "view_ledgerentry", "post_adjustment")
    response = staff.post(f"/admin/billing/ledgerentry/{usage.pk}/reverse/", {"reason": "x"})
    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(reverses=usage).exists()


def test_with_the_permission_a_double_submitted_adjustment_posts_once(client, admin_user, org):
    staff = _staff(client, admin_user, "view_creditaccount", "post_adjustment")
    page = staff.get(_adjust_url(org)).content.decode()
    request_id = re.search(r'name="request_id" value="([0-9a-f-]+)"', page).group(1)
    for _ in range(2):
        response = staff.post(_adjust_url(org), {"credits": "25", "reason": "goodwill",
                                                 "request_id": request_id})
        assert response.status_code == 302
    assert LedgerEntry.objects.count() == 1 and balance(org) == Decimal(25)
    fresh = re.search(r'name="request_id" value="([0-9a-f-]+)"',
                      staff.get(_adjust_url(org)).content.decode()).group(1)
    assert fresh != request_id


def test_staff_without_the_permission_cannot_refund(client, admin_user, paid, stripe_stub):
    staff = _staff(client, admin_user, "view_purchase", "change_purchase")
    url = f"/admin/billing/purchase/{paid.pk}/refund/"
    assert staff.get(url).status_code == 403
    response = staff.post(url, {"amount": "5",
                                "request_id": "5d1f1c1e-0000-4000-8000-0000000000b1"})
    assert response.status_code == 403
    changelist = staff.get("/admin/billing/purchase/").content.decode()
    assert "refund_in_full" not in changelist  # the actions are not offered
    staff.post("/admin/billing/purchase/", {"action": "refund_in_full",
                                            "_selected_action": [paid.pk]})
    assert stripe_stub.requests_to("POST", "/v1/refunds") == []


def test_the_refund_action_itself_checks_the_permission(rf, admin_user, paid, stripe_stub):
    from django.contrib.admin.sites import site
    from django.core.exceptions import PermissionDenied

    from billing.models import Purchase

    admin_user.is_staff = True
    admin_user.save()
    request = rf.post("/admin/billing/purchase/")
    request.user = admin_user
    model_admin = site._registry[Purchase]
    with pytest.raises(PermissionDenied):
        model_admin.refund_in_full(request, Purchase.objects.filter(pk=paid.pk))
    assert stripe_stub.requests_to("POST", "/v1/refunds") == []


def test_with_the_permission_the_refund_is_sent(client, admin_user, paid, stripe_stub):
    staff = _staff(client, admin_user, "view_purchase", "refund_purchase")
    response = staff.post(f"/admin/billing/purchase/{paid.pk}/refund/",
                          {"amount": "5", "request_id": "5d1f1c1e-0000-4000-8000-0000000000c1"})
    assert response.status_code == 302
    assert len(stripe_stub.requests_to("POST", "/v1/refunds")) == 1
