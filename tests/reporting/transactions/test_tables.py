"""The transactions table's rows, drawn in one piece per row: the cells django-tables2
drew (links, UTC times, signs, two places, escaped and shortened text, blank cells for
entries without a usage event) and the even/odd rows."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.ledger.corrections import adjust_credits
from billing.models import LedgerEntry
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import SYSTEM, D
from tests.billing.usage_fixtures import ai_event, funded, seed_prices

pytestmark = pytest.mark.django_db

REASON = '<b>"Goodwill" & thanks</b> for the long outage of the third of March'


def body_rows(client, org, **params):
    html = client.get(reverse("transactions", args=[org.slug]), params).content.decode()
    tbody = html[html.index("<tbody>"): html.index("</tbody>")]
    return re.findall(r'<tr class="(even|odd)">(.*?)</tr>', tbody), tbody


def test_rows_carry_the_same_cells_as_before(member_client, org):
    seed_prices()
    funded(org)
    record_usage(organization=org, events=[ai_event("a", operation="chat")])
    adjust_credits(organization=org, credits=D("-1234.565"), reason=REASON, actor=SYSTEM)
    debit, usage, grant = LedgerEntry.objects.filter(account__organization=org).order_by("-id")
    rows, _ = body_rows(member_client, org)

    assert [css for css, _ in rows] == ["even", "odd", "even"]
    when = timezone.localtime(debit.created_at).strftime("%Y-%m-%d %H:%M")
    url = reverse("entry_detail", args=[org.slug, debit.pk])
    assert rows[0][1] == (
        f'<td data-label="Entry"><a href="{url}">#{debit.pk}</a></td>'
        f'<td class="when" data-label="Charged (UTC)">{when}</td>'
        # No usage: the Used cell is blank.
        '<td class="when" data-label="Used (UTC)"></td><td data-label="Kind">Adjustment</td>'
        '<td class="num" data-label="Amount"><span class="neg">\u22121,234.57</span></td>'
        # Balance after -234.985: two places, half up; the reason cut to 40 characters.
        '<td class="num" data-label="Balance after">-234.99</td>'
        '<td class="text" data-label="By">system:tests</td>'
        '<td class="names" data-label="Model or meter"></td>'
        '<td class="names" data-label="Operation"></td>'
        '<td class="text reason" data-label="Reason">'
        "&lt;b&gt;&quot;Goodwill&quot; &amp; thanks&lt;/b&gt; for the long\u2026</td>"
    )
    assert ('<td class="names" data-label="Model or meter">gpt-4o</td>'
            '<td class="names" data-label="Operation">chat</td>') in rows[1][1]
    used = timezone.localtime(usage.usage_events.get().occurred_at).strftime("%Y-%m-%d %H:%M")
    assert (f'<td class="when" data-label="Used (UTC)">{used}</td>'
            '<td data-label="Kind">Usage</td>') in rows[1][1]
    assert '<span class="neg">\u2212' in rows[1][1]
    assert f'<span class="pos">+{grant.amount:,.2f}</span>' in rows[2][1]


def test_no_rows_says_so_across_every_column(member_client, org):
    rows, tbody = body_rows(member_client, org, kind="refund")
    assert rows == []
    assert '<tr><td colspan="10">No transactions match.</td></tr>' in tbody


def test_each_cell_is_labelled_with_its_column_header(member_client, org):
    """A phone stacks the rows and shows each value beside its data-label: the labels are
    the header's, in the header's order."""
    funded(org)
    html = member_client.get(reverse("transactions", args=[org.slug])).content.decode()
    thead = html[html.index("<thead"): html.index("</thead>")]
    headers = [re.sub(r"<[^>]+>", "", th).strip()
               for th in re.findall(r"<th[^>]*>(.*?)</th>", thead, re.S)]
    rows, _ = body_rows(member_client, org)
    assert re.findall(r'data-label="([^"]*)"', rows[0][1]) == headers
