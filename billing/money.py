"""Credits arithmetic. The only module that rounds.

Credits are Decimal with six places (numeric(20, 6) in the database). Lines of
one event are summed unrounded and the total is rounded once, here.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CREDIT_PLACES = 6
CREDIT_QUANTUM = Decimal(1).scaleb(-CREDIT_PLACES)  # 0.000001
MAX_CREDITS = Decimal("1e14")  # numeric(20, 6) holds 14 digits before the point
ZERO = Decimal("0.000000")


class InvalidAmount(ValueError):
    pass


def round_credits(value: Decimal) -> Decimal:
    """Round once, half up, to six places."""
    if not isinstance(value, Decimal):
        raise TypeError(f"credits must be Decimal, not {type(value).__name__}")
    return value.quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)


def parse_credits(value, *, allow_negative: bool = False, allow_zero: bool = False) -> Decimal:
    """A user-supplied amount as exact credits; refuses floats, NaN, and more than six places."""
    if isinstance(value, float | bool):
        raise InvalidAmount("credits must be a decimal string or integer, never a float")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidAmount(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite number")
    if amount.as_tuple().exponent < -CREDIT_PLACES and amount != round_credits(amount):
        raise InvalidAmount(f"{value!r} has more than {CREDIT_PLACES} decimal places")
    if abs(amount) >= MAX_CREDITS:
        raise InvalidAmount(f"{value!r} is too large")
    if amount < 0 and not allow_negative:
        raise InvalidAmount("the amount must not be negative")
    if amount == 0 and not allow_zero:
        raise InvalidAmount("the amount must not be zero")
    return round_credits(amount)


def canonical(value: Decimal) -> str:
    """The fixed six-place text used in hashes and fingerprints."""
    return f"{round_credits(value):.{CREDIT_PLACES}f}"


def display(value: Decimal | None) -> str:
    """Grouped, trailing zeros trimmed to at least two places; exact, never rounded."""
    if value is None:
        return ""
    text = f"{value:,.{CREDIT_PLACES}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


PRICE_PLACES = 10  # numeric(20, 10): USD per million tokens or per meter unit


def round_price(value: Decimal) -> Decimal:
    """A list price brought to the column's ten places (some upstream values are
    float artefacts such as 0.18000000000000002); exact prices pass unchanged."""
    if value.as_tuple().exponent < -PRICE_PLACES:
        return value.quantize(Decimal(1).scaleb(-PRICE_PLACES), rounding=ROUND_HALF_UP)
    return value
