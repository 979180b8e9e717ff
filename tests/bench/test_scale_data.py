"""The ten-million-row loader writes valid books (bench/scale_data.py): on two thousand
events, `verify_ledger` accepts the chain, balances and allocations it signed, and the
rollups are the sums of the events; usage is charged as the app charges it, one entry per
charge (single events and batches) committing to its events. PostgreSQL only (the loader
writes by COPY)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, Sum

from bench import scale_data
from billing.ledger.actor import Actor
from billing.ledger.usage_charges import EVENTS
from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, DailyUsage, EntryKind, LedgerEntry, UsageEvent
from billing.usage.ingestion.charges import FIELDS
from tests.billing.usage_fixtures import api_key_for, seed_prices
from tests.conftest import make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

STREAMS = {
    "billing_usageevent": scale_data.EVENT_VARYING + scale_data.event_constant_columns(FIELDS),
    "billing_ledgerentry": scale_data.ENTRY_COLUMNS,
    "billing_grantallocation": scale_data.ALLOCATION_COLUMNS,
}


def load(sizes: dict[str, int]) -> list:
    last = datetime.now(UTC) - timedelta(minutes=10)
    first = last - timedelta(days=30)
    templates = scale_data.price_templates(
        count=40, plan="professional", first=first, last=last, seed=1, event_fields=FIELDS,
        models={"gpt-4o": 1}, meters=["compute.gpu_seconds", "bandwidth.egress_gb"])
    lines = {table: [] for table in STREAMS}
    # Far above anything the fixtures created, as the loader reserves ranges.
    ids = scale_data.Ids(event=10**6, entry=10**6, allocation=10**6, grant=10**6)
    results = []
    for n, (slug, events) in enumerate(sizes.items()):
        org = make_org(slug)
        key = api_key_for(org).api_key
        plan = scale_data.OrgPlan(
            organization_id=org.pk, account_id=CreditAccount.objects.get(organization=org).pk,
            api_key_id=key.pk, api_key_label=Actor.api_key(key).label, slug=slug,
            events=events, topups=5, batch=100, single_share=0.2)
        result = scale_data.generate_org(
            plan, templates, ids, first=first, last=last, seed=n,
            write_event=lines["billing_usageevent"].append,
            write_entry=lines["billing_ledgerentry"].append,
            write_allocation=lines["billing_grantallocation"].append)
        results.append((plan, result))
    with connection.cursor() as cursor:
        for table, columns in STREAMS.items():
            with cursor.cursor.copy(scale_data.copy_statement(table, columns)) as copy:
                copy.write("".join(lines[table]))
        scale_data.write_results(cursor.cursor, results, templates)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys, checked now
    return results


def test_loaded_books_pass_verify_ledger_and_rollups_sum_the_events():
    seed_prices()
    results = load({"big": 1500, "small": 500})

    report = verify_ledger()
    assert report.ok, [str(p) for p in report.problems]
    grants = sum(len(result.grants) for _, result in results)
    assert grants >= 2  # top-ups happened, so burn-down crossed grants
    charges = LedgerEntry.objects.filter(kind=EntryKind.USAGE)
    assert report.entries == charges.count() + grants
    # Charges of one event and batches both, each entry committing to its events.
    sizes = sorted(entry.metadata[EVENTS] for entry in charges)
    assert sizes[0] == 1 and sizes[-1] == 100 and sum(sizes) == 2000
    for plan, result in results:
        events = UsageEvent.objects.filter(organization_id=plan.organization_id).aggregate(
            n=Count("id"), credits=Sum("credits"), quantity=Sum("quantity"))
        rollup = DailyUsage.objects.filter(organization_id=plan.organization_id).aggregate(
            n=Sum("event_count"), credits=Sum("credits"), quantity=Sum("quantity"))
        assert events == rollup
        assert events["n"] == plan.events
        assert CreditAccount.objects.get(pk=plan.account_id).balance == result.balance
