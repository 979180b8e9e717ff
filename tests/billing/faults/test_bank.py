"""The bank test: the money stays exact while PostgreSQL drops every connection, again and again.

Eight clients send single usage events through Django's WSGI handler (one thread each,
connections kept and health-checked as under gunicorn), each event retried with the same
key until it is answered 200. Meanwhile Stripe delivers the checkout events of six
purchases, each redelivered until 200, and a fault thread keeps cutting the database: a
TCP proxy between the app and PostgreSQL drops every open connection at once and refuses
new ones for a moment (a restart), many times. Afterwards: every key charged exactly once,
the balance moved by exactly the purchases minus the sum of the answers, every purchase
fulfilled once, `verify_ledger` passes, and no client ever saw anything but 200 or 503.
Run with `-s` to see the figures.
"""

import json
import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.models import Count, Sum

from billing.models import (
    CreditAccount,
    DailyUsage,
    EntryKind,
    LedgerEntry,
    Purchase,
    PurchaseStatus,
    StripeEvent,
    UsageEvent,
)
from tests.billing.postings import assert_ledger_ok
from tests.billing.purchase_fixtures import WEBHOOK_URL, pending_purchase
from tests.billing.stripe_stub import event, session_object, sign
from tests.billing.usage_fixtures import api_key_for, funded, gpu_event, seed_prices
from tests.wsgi_calls import call

pytestmark = [pytest.mark.system, pytest.mark.postgres]

CLIENTS = 8
EVENTS_PER_CLIENT = 25
PURCHASES = 6
OPENING_BALANCE = Decimal("100000")
MAX_TRIES = 400  # 503s in a row before a client gives up (and the test fails)


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()  # HTTP status of every usage answer
        self.webhook_statuses = Counter()
        self.retries = 0
        self.final = {}  # key -> the 200 answer's result
        self.unanswered = []
        self.missing_retry_after = 0

    def saw(self, answer, counter):
        with self.lock:
            counter[answer.status] += 1
            if answer.status == 503 and "Retry-After" not in answer.headers:
                self.missing_retry_after += 1


def pause(tries: int, rng: random.Random) -> None:
    """Back off as a client honouring a short Retry-After would, scaled down for the test."""
    time.sleep(min(0.4, 0.02 * 2 ** min(tries, 5)) * rng.uniform(0.5, 1.0))


def send_usage(client: int, raw_key: str, tally: Tally) -> None:
    rng = random.Random(client)
    try:
        for n in range(EVENTS_PER_CLIENT):
            key = f"c{client}-e{n}"
            body = json.dumps({"events": [gpu_event(key, quantity=f"{rng.randint(1, 500)}.5")]})
            for tries in range(MAX_TRIES):
                answer = call("POST", "/api/v1/usage-events", body=body.encode(),
                              headers={"Authorization": f"Bearer {raw_key}"})
                tally.saw(answer, tally.statuses)
                if answer.status == 200:
                    with tally.lock:
                        tally.final[key] = answer.json()["results"][0]
                    break
                if answer.status != 503:  # only "retry soon" is retried; the test then fails
                    tally.unanswered.append(key)
                    break
                with tally.lock:
                    tally.retries += 1
                pause(tries, rng)
            else:
                tally.unanswered.append(key)
    finally:
        connections.close_all()


def deliver_webhooks(events: list[dict], tally: Tally, rng: random.Random) -> None:
    try:
        for evt in events:
            payload = json.dumps(evt)
            for tries in range(MAX_TRIES):
                answer = call("POST", WEBHOOK_URL, body=payload.encode(), headers={
                    "Stripe-Signature": sign(payload, settings.STRIPE_WEBHOOK_SECRET)})
                tally.saw(answer, tally.webhook_statuses)
                if answer.status == 200:
                    break
                if answer.status != 503:
                    tally.unanswered.append(evt["id"])
                    break
                pause(tries, rng)  # Stripe redelivers, with backoff
            else:
                tally.unanswered.append(evt["id"])
            time.sleep(rng.uniform(0.2, 0.6))  # spread the deliveries over the outage
    finally:
        connections.close_all()


def cut_repeatedly(proxy, done: threading.Event, rng: random.Random) -> None:
    while not done.wait(rng.uniform(0.25, 0.6)):
        proxy.cut(refuse_for=rng.uniform(0.05, 0.3))


@pytest.fixture
def kept_connections(db_proxy):
    """Connections kept between requests and health-checked, as .env.example configures."""
    settings_dict = connections["default"].settings_dict
    saved = settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"]
    settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"] = 60, True
    yield db_proxy
    settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"] = saved


def test_no_credit_is_lost_or_doubled_while_the_database_keeps_dropping(
        org, admin_user, package, stripe_stub, kept_connections):
    proxy = kept_connections
    seed_prices()
    funded(org, OPENING_BALANCE)
    raw_key = api_key_for(org).raw_key
    purchases = [pending_purchase(org, package, admin_user) for _ in range(PURCHASES)]
    deliveries = []
    for purchase in purchases:
        session = session_object(purchase)
        stripe_stub.set_session(purchase.stripe_checkout_session_id, **session)
        deliveries.append(event("checkout.session.completed", session))
    connection.close()

    tally, done, rng = Tally(), threading.Event(), random.Random(14)
    faults = threading.Thread(target=cut_repeatedly, args=(proxy, done, rng))
    workers = [threading.Thread(target=send_usage, args=(c, raw_key, tally))
               for c in range(CLIENTS)]
    workers.append(threading.Thread(target=deliver_webhooks,
                                    args=(deliveries, tally, random.Random(1))))
    started = time.monotonic()
    faults.start()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=240)
    done.set()
    faults.join()
    proxy.restore()
    elapsed = time.monotonic() - started
    # After the outage Stripe may deliver everything once more: nothing happens twice.
    redelivered = Counter()
    for evt in deliveries:
        payload = json.dumps(evt)
        redelivered[call("POST", WEBHOOK_URL, body=payload.encode(), headers={
            "Stripe-Signature": sign(payload, settings.STRIPE_WEBHOOK_SECRET)}).json()[
            "result"]] += 1
    connection.close()

    events = CLIENTS * EVENTS_PER_CLIENT
    outcomes = Counter(result["status"] for result in tally.final.values())
    answered_credits = sum(Decimal(r["credits"]) for r in tally.final.values())
    print(f"\nbank test: {events} usage events from {CLIENTS} clients and {PURCHASES} "
          f"Stripe checkouts in {elapsed:.1f} s; {proxy.cuts} faults injected "
          f"({proxy.dropped} open connections dropped, {proxy.refused} connection attempts "
          f"refused); usage answers by status {dict(sorted(tally.statuses.items()))}, "
          f"{tally.retries} retries, final results {dict(outcomes)}; webhook deliveries by "
          f"status {dict(sorted(tally.webhook_statuses.items()))}, redelivered after: "
          f"{dict(redelivered)}; {answered_credits} credits answered")

    assert not tally.unanswered
    assert set(tally.statuses) <= {200, 503} and set(tally.webhook_statuses) <= {200, 503}
    assert tally.missing_retry_after == 0
    assert proxy.cuts >= 5 and tally.statuses[503] > 0  # the faults did hit the clients
    # Every key charged exactly once, and answered as charged (or as the duplicate of it).
    assert len(tally.final) == events
    assert set(outcomes) <= {"charged", "duplicate"}
    per_key = (LedgerEntry.objects.filter(account__organization=org, kind=EntryKind.USAGE)
               .values("idempotency_key").annotate(n=Count("id")))
    assert len(per_key) == events and {row["n"] for row in per_key} == {1}
    assert UsageEvent.objects.filter(organization=org).count() == events
    rollup = DailyUsage.objects.filter(organization=org).aggregate(n=Sum("event_count"),
                                                                   credits=Sum("credits"))
    assert rollup == {"n": events, "credits": answered_credits}  # written with each charge
    # The balance moved by exactly the purchases minus the answers.
    for purchase in purchases:
        purchase.refresh_from_db()
        assert purchase.status == PurchaseStatus.PAID
    granted = PURCHASES * (package.base_credits + package.bonus_credits)
    assert LedgerEntry.objects.filter(kind=EntryKind.PURCHASE).count() == PURCHASES
    assert LedgerEntry.objects.filter(kind=EntryKind.BONUS).count() == PURCHASES
    assert not StripeEvent.objects.filter(processed_at__isnull=True).exists()
    assert redelivered == {"already processed": PURCHASES}
    balance = CreditAccount.objects.get(organization=org).balance
    assert balance == OPENING_BALANCE + granted - answered_credits
    usage_total = sum(e.amount for e in LedgerEntry.objects.filter(kind=EntryKind.USAGE))
    assert -usage_total == answered_credits
    assert Purchase.objects.filter(status=PurchaseStatus.PAID).count() == PURCHASES
    assert_ledger_ok(org)
