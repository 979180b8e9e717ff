"""The transactions page: filters, sorting, keyset pages, scoping and a constant query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.ledger.actor import Actor
from billing.ledger.corrections import adjust_credits
from billing.models import CreditAccount, LedgerEntry
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import SYSTEM, D
from tests.billing.usage_fixtures import ai_event, api_key_for, funded, gpu_event, seed_prices
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(org):
    """A grant, three usage entries (three requests: two models, three operations, one
    user) and a debit."""
    seed_prices()
    funded(org)
    ana = make_member(org, "ana@acme.test")
    key = api_key_for(org).api_key
    for event in (ai_event("a", operation="chat", user="ana@acme.test"),
                  ai_event("b", operation="summarise"), gpu_event("c", operation="fine-tune")):
        record_usage(organization=org, api_key=key, events=[event])
    adjust_credits(organization=org, credits=D(-5), reason="goodwill correction", actor=SYSTEM)
    return {"ana": ana, "key": key}


def page(client, org, **params):
    response = client.get(reverse("transactions", args=[org.slug]), params)
    assert response.status_code == 200
    return response


def ids(response):
    return [row.pk for row in response.context["page"].rows]


def test_member_sees_every_entry_newest_first_with_links(member_client, org, ledger):
    response = page(member_client, org)
    all_ids = list(LedgerEntry.objects.filter(account__organization=org)
                   .order_by("-id").values_list("id", flat=True))
    assert ids(response) == all_ids and len(all_ids) == 5
    body = response.content.decode()
    assert reverse("entry_detail", args=[org.slug, all_ids[0]]) in body
    assert "gpt-4o" in body and "fine-tune" in body and ">5</span> entries in all" in body


@pytest.mark.parametrize("params, expected", [
    ({"kind": "usage"}, 3),
    ({"kind": "adjustment"}, 2),
    ({"resource": "gpt-4o"}, 2),
    ({"resource": "compute.gpu_seconds"}, 1),
    ({"operation": "chat"}, 1),
    ({"sign": "in"}, 1),
    ({"sign": "out"}, 4),
    ({"kind": "usage", "operation": "summarise", "sign": "out"}, 1),
])
def test_each_filter_narrows_the_rows(member_client, org, ledger, params, expected):
    assert len(ids(page(member_client, org, **params))) == expected


def test_user_or_api_key(member_client, org, ledger):
    assert len(ids(page(member_client, org, who=f"key:{ledger['key'].pk}"))) == 3
    assert len(ids(page(member_client, org, who=f"user:{ledger['ana'].pk}"))) == 1


def test_date_range_is_utc_days(member_client, org, ledger):
    today = timezone.now().date()
    assert len(ids(page(member_client, org, start=today, end=today))) == 5
    assert ids(page(member_client, org, end=today - timedelta(days=1))) == []


def test_a_bad_filter_value_shows_errors_and_no_rows(member_client, org, ledger):
    response = page(member_client, org, kind="nonsense")
    assert response.context["page"] is None and "Select a valid choice" in (
        response.content.decode())


def test_sorted_by_amount_largest_credit_first(member_client, org, ledger):
    rows = page(member_client, org, sort="-amount").context["page"].rows
    amounts = [r.amount for r in rows]
    assert amounts == sorted(amounts, reverse=True) and amounts[0] == D(1000)


def test_keyset_pages_walk_forward_and_back(member_client, org, ledger, monkeypatch):
    monkeypatch.setattr("reporting.transactions.pages.PAGE_SIZE", 2)
    first = page(member_client, org)
    second = page(member_client, org, after=first.context["page"].older)
    third = page(member_client, org, after=second.context["page"].older)
    walked = ids(first) + ids(second) + ids(third)
    assert walked == list(LedgerEntry.objects.filter(account__organization=org)
                          .order_by("-id").values_list("id", flat=True))
    assert third.context["page"].older is None
    back = page(member_client, org, before=third.context["page"].newer)
    assert ids(back) == ids(second)
    assert 'rel="next"' in second.content.decode() and 'rel="prev"' in second.content.decode()


def test_another_orgs_member_gets_404(client, org, ledger, other_admin):
    client.force_login(other_admin)
    assert client.get(reverse("transactions", args=[org.slug])).status_code == 404


def test_query_count_does_not_grow_with_rows(member_client, org, ledger):
    page(member_client, org)  # the first visit records the org used last
    with CaptureQueriesContext(connection) as few:
        page(member_client, org)
    for n in range(60):  # a charge each: 60 more entries
        record_usage(organization=org, events=[
            ai_event(f"more{n}", operation=f"op{n}", user=f"u{n}@x.test")])
    with CaptureQueriesContext(connection) as many:
        response = page(member_client, org)
    assert len(ids(response)) == 50
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    # Session, user, membership, header and banners (once: the table is drawn without
    # running the context processors again), choices, one page.
    assert len(few) <= 16


def test_model_filter_gives_the_same_rows_in_the_same_order(member_client, org, ledger):
    expected = list(LedgerEntry.objects.filter(account__organization=org,
                                               usage_events__resource="gpt-4o")
                    .distinct().order_by("-id").values_list("id", flat=True))
    assert ids(page(member_client, org, resource="gpt-4o")) == expected and len(expected) == 2
    assert ids(page(member_client, org, resource="no-such-model")) == []


@pytest.mark.parametrize("sort", ["-id", "id", "-amount", "amount"])
def test_user_filter_read_in_two_parts_gives_the_rows_of_the_or(member_client, org, ledger,
                                                                  sort):
    from django.db.models import Q

    from billing.ledger.actor import Actor
    from reporting.transactions.pages import SORTS

    ana = ledger["ana"]
    record_usage(organization=org, events=[
        ai_event(f"ana{n}", user="ana@acme.test", input_tokens=1000 + 100 * (n % 3))
        for n in range(5)])
    adjust_credits(organization=org, credits=D(2), reason="for ana", actor=SYSTEM)
    for n in range(2):  # entries ana made herself: the other part
        adjust_credits(organization=org, credits=D(-1), reason=f"by ana {n}",
                       actor=Actor.user(ana))
    expected = list(LedgerEntry.objects.filter(account__organization=org)
                    .filter(Q(actor_user_id=ana.pk) | Q(usage_events__user_id=ana.pk))
                    .distinct().order_by(*SORTS[sort]).values_list("id", flat=True))
    walked, params = [], {"who": f"user:{ana.pk}", "sort": sort}
    response = page(member_client, org, **params)
    walked += ids(response)
    assert len(expected) == 4 and walked == expected  # "a", the charge of five, two made
    made = ids(page(member_client, org, who=f"user:{ana.pk}", kind="adjustment"))
    assert len(made) == 2


def test_a_charge_of_many_events_is_found_by_each_events_values(member_client, org, ledger):
    """One entry for a request of three events: each event's model, operation and user
    finds it, once, and its row names every model and operation."""
    record_usage(organization=org, events=[
        ai_event("m1", operation="embed", user="ana@acme.test"),
        gpu_event("m2", operation="render"), ai_event("m3", operation="embed")])
    [charge] = LedgerEntry.objects.filter(usage_events__idempotency_key="m1")
    ana = ledger["ana"]
    for params in ({"resource": "compute.gpu_seconds"}, {"operation": "render"},
                   {"operation": "embed"}, {"who": f"user:{ana.pk}", "kind": "usage"}):
        assert charge.pk in ids(page(member_client, org, **params)), params
        assert ids(page(member_client, org, **params)).count(charge.pk) == 1, params
    body = page(member_client, org, operation="render").content.decode()
    assert "compute.gpu_seconds; gpt-4o" in body and "embed; render" in body


def test_the_entry_count_has_separators(member_client, org, ledger):
    # The counter the ledger keeps, as a long-lived account's would read.
    CreditAccount.objects.filter(organization=org).update(entry_count=2028)
    body = member_client.get(reverse("transactions", args=[org.slug])).content.decode()
    assert '<span data-testid="entry-count">2,028</span> entries in all' in body


@pytest.fixture
def late_import(org, ledger):
    """Usage of ten and eight days ago, charged today in one batch (an import of last
    week's events), and one event of five days ago charged today on its own."""
    now = timezone.now()
    ago = {n: (now - timedelta(days=n)).replace(hour=12) for n in (10, 8, 5)}
    record_usage(organization=org, events=[
        ai_event("old-1", occurred_at=ago[10].isoformat(), user="ana@acme.test"),
        ai_event("old-2", occurred_at=ago[8].isoformat())])
    record_usage(organization=org, events=[gpu_event("old-3", occurred_at=ago[5].isoformat())])
    single, batch = LedgerEntry.objects.filter(kind="usage").order_by("-id")[:2]
    return {"days": {n: moment.date() for n, moment in ago.items()}, "batch": batch,
            "single": single, "ana": ledger["ana"]}


def test_usage_charged_late_is_found_by_the_days_it_happened(member_client, org,
                                                             late_import):
    days, batch, single = late_import["days"], late_import["batch"], late_import["single"]
    by_charge = page(member_client, org, start=days[10], end=days[5])
    assert ids(by_charge) == []
    assert ids(page(member_client, org, start=days[10], end=days[5], dates="used")) == [
        single.pk, batch.pk]
    assert ids(page(member_client, org, start=days[8], end=days[8], dates="used")) == [batch.pk]
    assert ids(page(member_client, org, end=days[10], dates="used")) == [batch.pk]
    assert ids(page(member_client, org, start=days[5], dates="used", kind="usage")) == [
        single.pk, *ids(page(member_client, org, kind="usage"))[2:]]


def test_by_when_used_a_charge_straddling_the_range_is_not_in_it(member_client, org,
                                                                 late_import):
    """Events ten and eight days ago: the day between finds nothing, though one event
    is after its start and the other before its end."""
    nine_days_ago = late_import["days"][10] + timedelta(days=1)
    assert ids(page(member_client, org, start=nine_days_ago, end=nine_days_ago,
                    dates="used")) == []


def test_by_when_used_other_entries_go_by_when_they_were_made(member_client, org,
                                                              late_import):
    today = timezone.now().date()
    rows = page(member_client, org, start=today, end=today, dates="used").context["page"].rows
    assert {row.kind for row in rows} == {"adjustment", "usage"}
    assert late_import["batch"] not in rows and late_import["single"] not in rows
    assert len(rows) == 5  # the grant, the three same-day charges and the debit


@pytest.mark.parametrize("sort", ["-id", "amount"])
def test_by_when_used_with_a_user_reads_three_parts_giving_the_rows_of_the_or(
        member_client, org, late_import, sort):
    days, ana = late_import["days"], late_import["ana"]
    params = {"start": days[10], "end": days[10], "dates": "used", "who": f"user:{ana.pk}",
              "sort": sort}
    response = page(member_client, org, **params)
    assert len(response.context["filter"].page_parts()) == 3
    assert ids(response) == [late_import["batch"].pk]
    adjust_credits(organization=org, credits=D(-1), reason="by ana", actor=Actor.user(ana))
    today = timezone.now().date()
    made = page(member_client, org, **{**params, "start": days[10], "end": today})
    assert ids(made)[:2] == [LedgerEntry.objects.latest("id").pk, late_import["batch"].pk]


def test_both_dates_are_shown(member_client, org, late_import):
    days = late_import["days"]
    body = page(member_client, org, dates="used", start=days[10]).content.decode()
    assert "Charged (UTC)" in body and "Used (UTC)" in body
    assert f'<td class="when" data-label="Used (UTC)">{days[10]} \u2013 {days[8]}</td>' in body
    assert 'value="used" selected' in body


def test_an_unknown_date_basis_is_refused_naming_the_field(member_client, org, ledger):
    response = page(member_client, org, dates="yesterday")
    assert response.context["page"] is None
    assert "Select a valid choice" in str(response.context["filter"].form.errors["dates"])
