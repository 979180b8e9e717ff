"""Zero prices chosen by the client: a provider that charges nothing for a model other
providers charge for (an upstream zero, such as a subscription-priced gateway) is used
only where staff allowed it for the org (ZeroPriceAllowance); otherwise the event is
refused with a 422 naming `provider`. A model free everywhere stays free. docs/api.md,
"Zero prices".
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from billing.models.pricing import AIModel, ModelPrice, UsageBucket, ZeroPriceAllowance


def free_lines(lines) -> list:
    """The token lines with tokens at a zero price (a request fee of zero is not usage)."""
    return [
        ln
        for ln in lines
        if ln.quantity > 0 and ln.unit_price_usd == 0 and ln.bucket != UsageBucket.REQUEST
    ]


def allowed_providers(organization_id: int | None) -> frozenset[str]:
    if organization_id is None:
        return frozenset()
    return frozenset(
        ZeroPriceAllowance.objects.filter(organization_id=organization_id).values_list(
            "provider", flat=True
        )
    )


class ZeroPriceGuard:
    """One org's guard for one price book: its allowances read once, when first needed."""

    def __init__(self, organization_id: int | None):
        self.organization_id = organization_id
        self._allowed: frozenset[str] | None = None

    def refusal(self, model: AIModel, lines, *, at: datetime, catalogue, tables) -> str:
        """Why this quote is refused ("" when it is not): see undercut_message."""
        if not free_lines(lines):
            return ""
        if self._allowed is None:
            self._allowed = allowed_providers(self.organization_id)
        if model.provider in self._allowed:
            return ""
        others = [
            [
                r
                for r in tables.model_prices(other.pk)
                if r.starts_at <= at and (r.ends_at is None or at < r.ends_at)
            ]
            for other in catalogue.models_named(model.name)
            if other.pk != model.pk and other.active
        ]
        return undercut_message(model, lines, others)


def undercut_message(model: AIModel, lines, others: Iterable[Sequence[ModelPrice]]) -> str:
    """Why the event is refused, when a bucket it has at a zero price is priced above zero,
    at the same moment, by another provider's model of that name; "" otherwise."""
    buckets = {ln.bucket for ln in free_lines(lines)}
    for rows in others:
        if any(r.bucket in buckets and r.price_per_million_usd > 0 for r in rows):
            return (
                f"provider {model.provider!r} prices {model.name!r} at zero where other "
                "providers charge for it: send the provider that billed you (or none), or "
                "ask staff to allow this provider's zero price for your organisation"
            )
    return ""
