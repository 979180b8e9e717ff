"""Usage ingestion: the one service the API, import_usage and simulate_usage call.

A batch is validated and priced whole before anything is locked (one bad
event refuses it all). Then, in one transaction holding the org's account
lock once: known keys are answered from the stored events (duplicate or
conflict), each new event is charged in order (one that cannot be paid is
rejected and the rest go on), and the events, the charge's one ledger entry
(docs/ledger.md, "Usage charges") and the daily rollup are written in bulk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts.models import Membership
from accounts.selectors import members_from_rows
from billing import money
from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.ledger.store import current_store
from billing.ledger.store.interface import LockRead
from billing.ledger.usage_charges import (
    CHARGE_PREFIX,
    charge_metadata,
    charge_reason,
    events_digest,
)
from billing.models.usage import UsageType
from billing.pricing.quotes.price_book import PriceBook, PricingError, TokenCounts
from billing.usage.events import (
    MAX_EVENTS,
    Event,
    InvalidEvents,
    fingerprint,
    in_request_order,
    problem,
    read_events,
)
from billing.usage.ingestion.budgets import BudgetCheck
from billing.usage.ingestion.charges import (
    BALANCE_AFTER,
    USER_ID,
    json_text,
    plan_charge,
    reason,
    usage_rows,
)
from billing.usage.ingestion.known_keys import PriorEvent, prior_events, stored_events
from billing.usage.rollup.totals import RollupBatch

CHARGED, DUPLICATE, REJECTED = "charged", "duplicate", "rejected"
MAX_USD = Decimal(10) ** (money.USD_FIELD["max_digits"] - money.USD_FIELD["decimal_places"])


class UsageRefused(Exception):
    """The whole request is refused; nothing was recorded."""

    status = 400
    code = "usage_refused"


class PlanNotEligible(UsageRefused):
    status = 403
    code = "plan_not_eligible"


class TooManyEvents(UsageRefused):
    status = 413
    code = "too_many_events"


class EventResult(NamedTuple):  # not a frozen dataclass: made 1,000 times under the lock
    idempotency_key: str
    status: str
    credits: Decimal | None = None
    balance_after: Decimal | None = None
    error: dict | None = None

    def as_json(self) -> dict:
        return {
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "credits": None if self.credits is None else money.canonical(self.credits),
            "balance_after": (
                None if self.balance_after is None else money.canonical(self.balance_after)
            ),
            "error": self.error,
        }

    def json_text(self) -> str:
        """json.dumps(self.as_json()) as the API encodes it, written out (a batch answers
        1,000 of these; tests/billing/usage/ingestion/test_charge_path.py holds the two equal)."""
        credits = "null" if self.credits is None else f'"{money.canonical(self.credits)}"'
        balance = ("null" if self.balance_after is None
                   else f'"{money.canonical(self.balance_after)}"')
        error = "null" if self.error is None else json.dumps(self.error, cls=DjangoJSONEncoder)
        return (f'{{"idempotency_key": {json_text(self.idempotency_key)}, "status": '
                f'{json_text(self.status)}, "credits": {credits}, "balance_after": {balance}, '
                f'"error": {error}}}')


@dataclass(frozen=True)
class BatchResult:
    results: list[EventResult]
    balance: Decimal

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def charged_credits(self) -> Decimal:
        return sum((r.credits for r in self.results if r.status == CHARGED), Decimal(0))

    def as_json(self) -> dict:
        return {
            "results": [r.as_json() for r in self.results],
            "balance": money.canonical(self.balance),
        }

    def json_text(self) -> str:
        """The text of JsonResponse(self.as_json()), without the dicts."""
        results = ", ".join([r.json_text() for r in self.results])
        return f'{{"results": [{results}], "balance": "{money.canonical(self.balance)}"}}'


def record_usage(*, organization, events: list[dict], api_key=None, actor: Actor | None = None,
                 now: datetime | None = None, request_problems: list[dict] = (),
                 received_at: datetime | None = None,
                 before_lock: Callable[[], None] | None = None) -> BatchResult:
    """Record a batch of 1 to 1,000 events for one org (docs/api.md, "Report usage").

    Raises PlanNotEligible, TooManyEvents or InvalidEvents (nothing recorded; with the
    caller's `request_problems` among them); otherwise one result per event, in order.
    `now` fixes the clock (tests, imports); without it the charges take their time once
    the account lock is held, so a batch that waited acts at the moment it got the lock.
    `received_at` (the asynchronous queue) is when the events arrived: they are validated
    and stored as of then, but charged at the moment the lock is held, like `now=None`.
    `before_lock` is called once the batch is valid and priced, just before the lock is
    taken (import_usage's workers wait there for their turn, to charge in file order).
    """
    charge_at = now
    now = now or received_at or timezone.now()
    check_plan(organization)
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise TooManyEvents(f"{len(events)} events: at most {MAX_EVENTS} per request")
    parsed = read_and_price(events, plan=organization.plan, organization_id=organization.pk,
                            now=now, request_problems=request_problems)
    if actor is None:
        actor = Actor.api_key(api_key) if api_key is not None else Actor.system("usage")
    return _charge(organization, parsed, api_key=api_key, actor=actor, received=[now] * len(parsed),
                   charge_at=charge_at, before_lock=before_lock)


def charge_priced(*, organization, events: list[Event], received: list[datetime],
                  api_key=None) -> BatchResult:
    """Events already validated and priced by read_and_price (in runs, each as of its own
    arrival), event i having arrived at received[i], charged as one charge at the moment
    the lock is held: the asynchronous queue's batch of one API key (one entry)."""
    check_plan(organization)
    actor = Actor.api_key(api_key) if api_key is not None else Actor.system("usage")
    return _charge(organization, events, api_key=api_key, actor=actor, received=received,
                   charge_at=None, before_lock=None)


def check_plan(organization) -> None:
    """PlanNotEligible unless the org's plan has credits billing."""
    if not organization.billing_enabled:
        raise PlanNotEligible(f"the {organization.get_plan_display()} plan has no credits billing")


def estimate_usage(*, organization, events: list[dict], now: datetime | None = None) -> Decimal:
    """Credits the events would cost now, without recording anything (InvalidEvents if bad)."""
    parsed = read_and_price(events, plan=organization.plan, organization_id=organization.pk,
                            now=now or timezone.now())
    return sum((event.quote.credits for event in parsed), Decimal(0))


def read_and_price(events, *, plan: str, now: datetime, organization_id: int | None = None,
                   request_problems: list[dict] = ()) -> list[Event]:
    """The batch validated and priced; InvalidEvents lists every problem at once: those of
    the request itself, the shape of each event, and unknown models, meters or prices."""
    parsed, problems = read_events(events, now=now)
    priced = _price(parsed, plan=plan, organization_id=organization_id)
    problems = [*request_problems, *problems, *priced]
    if problems:
        raise InvalidEvents(in_request_order(problems))
    return parsed


def _price(events: list[Event], *, plan: str, organization_id: int | None) -> list[dict]:
    """Resolve and quote every event; the problems of those that cannot be priced."""
    book = PriceBook(plan=plan, organization_id=organization_id)
    problems = []
    for event in events:
        try:
            if event.type == UsageType.AI_TOKENS:
                event.ai_model = book.resolve_model(name=event.name, provider=event.provider)
                event.resource = event.ai_model.name
                event.quote = book.quote_tokens(
                    model=event.ai_model, tokens=TokenCounts(*event.tokens),
                    occurred_at=event.occurred_at, service_tier=event.service_tier,
                )
            else:
                event.meter = book.resolve_meter(code=event.name)
                event.resource = event.meter.code
                event.quote = book.quote_meter(
                    meter=event.meter, quantity=event.quantity, occurred_at=event.occurred_at
                )
        except PricingError as error:
            default = "model" if event.type == UsageType.AI_TOKENS else "meter"
            problems.append(problem(event.index, error.field or default, error.message))
            continue
        if too_costly := _beyond_columns(event):
            problems.append(too_costly)
            continue
        event.fingerprint = fingerprint(event)
    return problems


def _beyond_columns(event: Event) -> dict | None:
    """An event whose cost no credits or USD column can hold (a huge quantity of a
    dear meter) is invalid input, refused like any other, not a database error."""
    if event.quote.credits < money.MAX_CREDITS and event.quote.cost_usd < MAX_USD:
        return None
    field_name = "quantity" if event.type == UsageType.INFRASTRUCTURE else "input_tokens"
    return problem(event.index, field_name,
                   f"costs more than {money.display(money.MAX_CREDITS)} credits, "
                   "more than one event may cost")


def _same_payload(prior: PriorEvent, event: Event) -> bool:
    if prior.fingerprint != event.fingerprint:
        return False
    # An occurred_at the client left out (either time) is not compared.
    if prior.occurred_at_sent and event.occurred_at_sent:
        return prior.occurred_at == event.occurred_at
    return True


def _charge(organization, events: list[Event], *, api_key, actor, received: list[datetime],
            charge_at: datetime | None, before_lock: Callable[[], None] | None) -> BatchResult:
    results: list[EventResult] = []
    rollup = RollupBatch(organization.pk)
    # Worked out before the lock; under it only the balances and the one entry are.
    charges = [plan_charge(organization, event, api_key, arrived)
               for event, arrived in zip(events, received, strict=True)]
    rows = usage_rows()
    heads = (current_store().encode_ahead([charge.row for charge in charges], rows.ahead)
             or [None] * len(charges))
    keys = [e.key for e in events]
    # Read with the lock, so a concurrent request with the same key has committed or waits.
    known = stored_events(organization_id=organization.pk, keys=keys)
    emails = {e.user_label for e in events if e.user_label}
    members = LockRead(model=Membership, columns=("user_id", "user__email"), where=(
        ("organization_id", organization.pk), ("user__email", sorted(emails))))
    budgets = BudgetCheck(organization_id=organization.pk, moment=charge_at or timezone.now(),
                          api_key_id=api_key.pk if api_key is not None else None, users=emails)
    if before_lock is not None:
        before_lock()
    with open_book(organization=organization, now=charge_at,
                   reads=[known, *([members] if emails else []), *budgets.reads]) as book:
        prior = prior_events(book.rows(known))
        users = members_from_rows(book.rows(members)) if emails else {}
        budgets.load(book)
        paid: list[int] = []  # indexes of the events this charge takes credits for
        charged: list[int] = []  # and of all it records, free ones included
        available, total = None, Decimal(0)
        for index, (event, charge) in enumerate(zip(events, charges, strict=True)):
            if event.key in prior:
                results.append(_replay(prior[event.key], event))
                continue
            credits = event.quote.credits
            if available is None:  # the first new event: credits past their expiry pay
                book.expire_due()  # for nothing (a no-op when none are due)
                available = book.balance
            # A budget is checked before the balance, and refuses even an event it pays for.
            if (refused := budgets.refusal(event.user_label, credits)) is not None:
                results.append(EventResult(event.key, REJECTED, error=refused))
                continue
            if available < 0:
                results.append(_rejection(event, "insufficient_credits",
                                          "the organisation is in debt: usage is paused"))
                continue
            if credits > available:
                results.append(_rejection(
                    event, "insufficient_credits", f"{money.display(credits)} credits needed, "
                    f"{money.display(available)} available"))
                continue
            if credits > 0:
                available -= credits
                total += credits
                paid.append(index)
                budgets.spend(event.user_label, credits)
            charged.append(index)
            user = users.get(event.user_label) if event.user_label else None
            charge.row[USER_ID] = user.pk if user is not None else None
            charge.row[BALANCE_AFTER] = available
            results.append(EventResult(event.key, CHARGED, credits, available))
            rollup.add_to(charge.rollup_key, event.quantity, event.tokens[0], event.tokens[1],
                          event.quote.cost_usd, credits)
        entry = _post_charge(book, actor, events, charges, paid, total) if paid else None
        for index in charged:
            rows.add(charges[index].row, entry if events[index].quote.credits > 0 else None,
                     heads[index])
        if rows.rows:
            spent = budgets.totals()
            book.write_with_entries(rows, rollup.totals(), *([spent] if spent else []))
        budgets.announce(organization)
        balance = book.balance
    return BatchResult(results=results, balance=balance)


def _post_charge(book, actor, events: list[Event], charges, paid: list[int], total: Decimal):
    """The charge's one usage entry, for the events at `paid` (docs/ledger.md)."""
    digest = events_digest([charges[i].line for i in paid])
    metadata = charge_metadata(
        digest=digest, count=len(paid),
        cost_usd=sum((events[i].quote.cost_usd for i in paid), Decimal(0)),
        types=(events[i].type for i in paid), resources=(events[i].resource for i in paid),
        operations=(events[i].operation for i in paid),
        users=(events[i].user_label for i in paid),
        occurred=(events[i].occurred_at for i in paid))
    first = events[paid[0]]
    return book.consume(
        amount=total, actor=actor, idempotency_key=f"{CHARGE_PREFIX}{book.next_seq}",
        reason=(charge_reason(metadata["resources"], len(paid)) if len(paid) > 1
                else reason(first)),
        fingerprint=digest, metadata=metadata, new_key=True,
    ).entry


def _replay(prior: PriorEvent, event: Event) -> EventResult:
    if _same_payload(prior, event):
        return EventResult(event.key, DUPLICATE, prior.credits, prior.balance_after)
    return _rejection(
        event, "idempotency_conflict",
        f"idempotency key {event.key!r} was already used for a different event",
    )


def _rejection(event: Event, code: str, message: str) -> EventResult:
    return EventResult(event.key, REJECTED, error={"code": code, "message": message})
