"""What the drop-in ingestion shapes share (docs/integrate.md): the API key from the
bearer token, the org a wire event names, and the one call into our charging path.

Stripe meter events (stripe_meter_events.py) and CloudEvents (cloudevents.py) differ
only in how they read a request and how they answer; their events are read as ours
(billing/usage/mapped_events.py) and charged by record_usage, or queued by accept_usage
with ?mode=async, exactly as POST /api/v1/usage-events does.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.api.views import MODES, ApiKeyAuth
from billing.models import StripeCustomer
from billing.usage.events import InvalidEvents, in_request_order
from billing.usage.ingestion.record import REJECTED, BatchResult, record_usage
from billing.usage.mapped_events import MappedEvents
from billing.usage.queue.intake import accept_usage

# A refused event's reason -> the HTTP status its shape answers; any other reason
# (insufficient_credits, budget_exceeded, ...) is a 402: the event was not paid for.
REJECTION_STATUS = {"idempotency_conflict": 409}
PAYMENT_REQUIRED = 402


def api_key_from(request):
    """The active API key of `Authorization: Bearer <key>`, or None. Raises Throttled
    past the key's rate, as our own API does."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return ApiKeyAuth().authenticate(request, token)


class OrgNames:
    """What a wire event may call the key's org: its slug or its Stripe customer id (read
    once, and only when a name is not the slug)."""

    def __init__(self, organization):
        self.organization = organization
        self._customer_ids = None

    def __contains__(self, name) -> bool:
        if name == self.organization.slug:
            return True
        if self._customer_ids is None:
            self._customer_ids = set(StripeCustomer.objects.filter(
                organization=self.organization).values_list("customer_id", flat=True))
        return name in self._customer_ids


def mode_of(request) -> str | None:
    """`?mode=sync` (the default) or `?mode=async`, as our API's switch; None if neither."""
    mode = request.GET.get("mode", "sync")
    return mode if mode in MODES else None


@dataclass(frozen=True)
class Outcome:
    keys: list[str]  # the events' idempotency keys, in order
    result: BatchResult | None  # None when queued (async)

    @property
    def rejections(self) -> list[tuple[int, dict]]:
        """(index, error) of each event refused: insufficient credits, a conflict, ..."""
        if self.result is None:
            return []
        return [(i, r.error) for i, r in enumerate(self.result.results) if r.status == REJECTED]

    def status_of_rejections(self) -> int:
        codes = {error["code"] for _, error in self.rejections}
        statuses = {REJECTION_STATUS.get(code, PAYMENT_REQUIRED) for code in codes}
        return statuses.pop() if len(statuses) == 1 else PAYMENT_REQUIRED


def ingest(*, api_key, mapped: MappedEvents, mode: str) -> Outcome:
    """Charge (sync) or queue (async) the mapped events through our own path. Raises
    InvalidEvents (fields named as on the wire) or UsageRefused; nothing recorded then."""
    organization = api_key.organization
    if mapped.problems:
        raise InvalidEvents(in_request_order(mapped.problems))
    try:
        if mode == "async":
            keys = accept_usage(organization=organization, events=mapped.events,
                                api_key=api_key)
            return Outcome(keys=keys, result=None)
        result = record_usage(organization=organization, events=mapped.events, api_key=api_key)
    except InvalidEvents as error:
        raise InvalidEvents(in_request_order(mapped.rename(error.details))) from None
    return Outcome(keys=[r.idempotency_key for r in result.results], result=result)
