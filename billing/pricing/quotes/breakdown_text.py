"""A quote's breakdown as JSON text, built without the dict (docs/decisions.md, "Pricing").

Every charged event stores its breakdown; a batch used to build 1,000 dicts
of dicts and encode each with json.dumps. The parts that depend only on a
price row, the markup or the credit rate are encoded once and cached; per
event only the quantities, costs and credits are formatted. The text is
exactly the text PostgreSQL gives back for it as jsonb (billing/ledger/usage_charges.py,
`jsonb_text`, of quote.breakdown()): the form an event's line in its charge's digest
hashes as it is (docs/ledger.md, "Usage charges"). tests/billing/pricing/quotes/
test_breakdown_text.py holds the two equal, and the database's text equal to it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache


def plain(value: Decimal) -> str:
    """Exact text without exponent or trailing zeros: 2.5000000000 -> "2.5", 1E+2 -> "100"."""
    value = value.normalize()
    text = str(value)  # the same digits as format(value, "f") unless it uses an exponent
    return text if "E" not in text else format(value, "f")


def breakdown_json(quote) -> str:
    """The text of quotes.Quote.breakdown() as jsonb writes it (a Quote; not imported:
    quotes imports this): keys shortest first, then by their bytes."""
    lines = ", ".join([
        f'{head}{plain(line.cost_usd)}{middle}{plain(line.quantity)}{tail}'
        for line in quote.lines
        for head, middle, tail in (_line_text(line.bucket, line.unit_price_usd, line.per,
                                              line.price_id),)
    ])
    markup, rate_id, rest = _terms_text(quote.markup, quote.markup_id,
                                        quote.credits_per_usd, quote.rate_id)
    return (f'{{"lines": [{lines}], {markup}"credits": "{quote.credits}", {rate_id}'
            f'"cost_usd": "{plain(quote.cost_usd)}", {rest}}}')


# Keys are price rows' values: Decimals equal in value give the same plain() text.
@lru_cache(maxsize=4096)
def _line_text(bucket: str, unit_price: Decimal, per: int, price_id: int
               ) -> tuple[str, str, str]:
    """A line's JSON around its cost and its quantity, which vary per event."""
    return (f'{{"per": {json.dumps(per)}, "bucket": {json.dumps(bucket, ensure_ascii=False)}, '
            '"cost_usd": "',
            f'", "price_id": {json.dumps(price_id)}, "quantity": "',
            f'", "unit_price_usd": "{plain(unit_price)}"}}')


@lru_cache(maxsize=1024)
def _terms_text(markup: Decimal, markup_id: int, credits_per_usd: Decimal, rate_id: int
                ) -> tuple[str, str, str]:
    """The terms around the credits and the cost: the markup before the credits, the rate
    id before the cost, the markup id and the credit rate last."""
    return (f'"markup": "{plain(markup)}", ', f'"rate_id": {json.dumps(rate_id)}, ',
            f'"markup_id": {json.dumps(markup_id)}, '
            f'"credits_per_usd": "{plain(credits_per_usd)}"')
