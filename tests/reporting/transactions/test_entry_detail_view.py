import pytest
from django.urls import reverse

from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db


def test_member_sees_the_entry_with_grants_actor_and_reason(member_client, org):
    g = grant(org, 10).grant
    entry = consume(org, 4, key="usage:1").entry
    response = member_client.get(reverse("entry_detail", args=[org.slug, entry.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"#{g.pk}" in body and "system:tests" in body and "test usage" in body
    assert "−4.00" in body


def test_other_orgs_entry_is_404(member_client, org, other_org):
    grant(other_org, 10)
    foreign = consume(other_org, 1, key="usage:x").entry
    url = reverse("entry_detail", args=[org.slug, foreign.pk])
    assert member_client.get(url).status_code == 404
    url = reverse("entry_detail", args=[other_org.slug, foreign.pk])
    assert member_client.get(url).status_code == 404
