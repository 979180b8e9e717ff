"""Credits arithmetic. The only module that rounds.

Credits are Decimal with six places (numeric(20, 6) in the database). Lines of
one event are summed unrounded and the total is rounded once, here.
"""

from decimal import ROUND_HALF_UP, Decimal, DecimalException

CREDIT_PLACES = 6
CREDIT_DIGITS = 14  # before the point
CREDIT_QUANTUM = Decimal(1).scaleb(-CREDIT_PLACES)  # 0.000001
MAX_CREDITS = Decimal(10) ** CREDIT_DIGITS  # the first amount a credits column cannot hold
ZERO = Decimal("0.000000")


# Column sizes of the money paths; every DecimalField of credits, prices, rates and USD
# costs takes its size from here.
CREDITS_FIELD = {"max_digits": CREDIT_DIGITS + CREDIT_PLACES, "decimal_places": CREDIT_PLACES}
PRICE_FIELD = {"max_digits": 20, "decimal_places": 10}  # USD per million tokens or per unit
RATE_FIELD = {"max_digits": 20, "decimal_places": 8}  # credits per USD, plan markups
# USD cost is never rounded: prices have 10 places, per million tokens or per unit of a
# 6-place quantity, so 16 places hold every cost exactly.
USD_FIELD = {"max_digits": 30, "decimal_places": 16}


class InvalidAmount(ValueError):
    pass


def round_credits(value: Decimal) -> Decimal:
    """Round once, half up, to six places."""
    if not isinstance(value, Decimal):
        raise TypeError(f"credits must be Decimal, not {type(value).__name__}")
    # Positional: Decimal's keyword parsing costs four times the rounding (per entry, x3).
    return value.quantize(CREDIT_QUANTUM, ROUND_HALF_UP)


def round_charge(value: Decimal) -> Decimal:
    """A usage charge's credits: rounded once, and at least one millionth when the cost is
    positive, so that no billable event is free by rounding (docs/api.md, "Rounding")."""
    rounded = round_credits(value)
    return CREDIT_QUANTUM if value > 0 and rounded == 0 else rounded


def parse_credits(value, *, allow_negative: bool = False, allow_zero: bool = False) -> Decimal:
    """A user-supplied amount as exact credits; refuses floats, NaN, and more than six places.

    Any text at all gets InvalidAmount, never another error: exponents Decimal
    cannot hold, NUL characters and lone surrogates included.
    """
    if type(value) is Decimal and value.is_finite() and 0 < value < MAX_CREDITS:
        rounded = round_credits(value)  # the usual case (a batch's 1,000 charges), at once
        if rounded == value:
            return rounded
    if isinstance(value, float | bool):
        raise InvalidAmount("credits must be a decimal string or integer, never a float")
    shown = str(value)[:40]
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        if not amount.is_finite():
            raise InvalidAmount(f"{shown!r} is not a finite number")
        if abs(amount) >= MAX_CREDITS:  # first: rounding a huge number would overflow
            raise InvalidAmount(f"{shown!r} is too large")
        if amount.as_tuple().exponent < -CREDIT_PLACES and amount != round_credits(amount):
            raise InvalidAmount(f"{shown!r} has more than {CREDIT_PLACES} decimal places")
    except DecimalException:
        raise InvalidAmount(f"{shown!r} is not a number") from None
    if amount < 0 and not allow_negative:
        raise InvalidAmount("the amount must not be negative")
    if amount == 0 and not allow_zero:
        raise InvalidAmount("the amount must not be zero")
    return round_credits(amount)


def canonical(value: Decimal) -> str:
    """The fixed six-place text used in hashes and fingerprints."""
    # A Decimal with exactly six places prints as f"{value:.6f}" does, and str() is the
    # cheaper of the two (tests/billing/test_money.py holds the two equal).
    return str(round_credits(value))


def display(value: Decimal | None) -> str:
    """Grouped, trailing zeros trimmed to at least two places; exact, never rounded."""
    if value is None:
        return ""
    text = f"{value:,.{CREDIT_PLACES}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


DISPLAY_QUANTUM = Decimal("0.01")


def display_rounded(value: Decimal | None) -> str:
    """What people read in headers, cards and tables: two places, grouped, half up."""
    if value is None:
        return ""
    return f"{value.quantize(DISPLAY_QUANTUM, rounding=ROUND_HALF_UP):,.2f}"


def display_usd(value: Decimal | None) -> str:
    """A USD cost as people read money: cents, grouped, with its code (37.84 USD).
    Exports keep the exact cost; the entry page shows each line's unrounded."""
    if value is None:
        return ""
    return f"{display_rounded(value)} USD"


def display_exact(value: Decimal | None) -> str:
    """What the entry detail and exports keep: all six places, grouped."""
    if value is None:
        return ""
    return f"{round_credits(value):,.{CREDIT_PLACES}f}"


def display_count(value: int | None) -> str:
    """A count as people read it: 2,028."""
    return "" if value is None else f"{value:,}"


def display_plain(value: Decimal | None) -> str:
    """A quantity, rate or price as written: grouped, trailing zeros and exponent gone
    (1,590 / 120.5 / 0.0000025), never rounded."""
    if value is None:
        return ""
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def display_usd_exact(value: Decimal | None) -> str:
    """A USD cost unrounded, for the entry page's priced lines: 0.0013425 USD, 37.84 USD."""
    if value is None:
        return ""
    whole, _, frac = display_plain(value).partition(".")
    return f"{whole}.{frac.ljust(2, '0')} USD"


USD_QUANTUM = Decimal(1).scaleb(-USD_FIELD["decimal_places"])


def export_usd(value: Decimal | str | None) -> str:
    """A USD cost in exports: the column's sixteen places always, so every cell of a
    cost column has the same precision and keeps the exact cost (never rounded: no cost
    has more places, see USD_FIELD)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).quantize(USD_QUANTUM):f}"


PRICE_PLACES = PRICE_FIELD["decimal_places"]


def round_price(value: Decimal) -> Decimal:
    """A list price brought to the column's ten places (some upstream values are
    float artefacts such as 0.18000000000000002); exact prices pass unchanged."""
    if value.as_tuple().exponent < -PRICE_PLACES:
        return value.quantize(Decimal(1).scaleb(-PRICE_PLACES), rounding=ROUND_HALF_UP)
    return value
