"""billing.money: the one place that rounds, parses and formats credits."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import money
from billing.money import InvalidAmount


@pytest.mark.parametrize(("value", "expected"), [
    ("0.0000005", "0.000001"),  # half rounds up
    ("0.00000049999", "0.000000"),
    ("-0.0000005", "-0.000001"),  # half up is away from zero
    ("2.5000004", "2.500000"),
    ("1.9999995", "2.000000"),
    ("7", "7.000000"),
])
def test_round_credits_is_half_up_to_six_places(value, expected):
    rounded = money.round_credits(Decimal(value))
    assert str(rounded) == expected


@pytest.mark.parametrize(("value", "name"), [(1, "int"), (1.5, "float"), ("1", "str")])
def test_round_credits_takes_only_decimals(value, name):
    with pytest.raises(TypeError, match=f"^credits must be Decimal, not {name}$"):
        money.round_credits(value)


def test_constants_match_the_columns():
    assert money.CREDIT_QUANTUM == Decimal("0.000001")
    assert money.MAX_CREDITS == Decimal("100000000000000")
    assert money.CREDITS_FIELD == {"max_digits": 20, "decimal_places": 6}


@pytest.mark.parametrize(("value", "expected"), [
    ("12.5", "12.500000"),
    (" 3 ", "3.000000"),
    (7, "7.000000"),
    (Decimal("0.000001"), "0.000001"),
    ("1.2500000", "1.250000"),  # trailing zeros past six places are exact
    ("99999999999999.999999", "99999999999999.999999"),  # the largest amount a column holds
])
def test_parse_credits_accepts_exact_amounts(value, expected):
    assert str(money.parse_credits(value)) == expected


FLOAT = "^credits must be a decimal string or integer, never a float$"


@pytest.mark.parametrize(("value", "message"), [
    (1.5, FLOAT),
    (True, FLOAT),
    ("abc", "is not a number"),
    ("", "is not a number"),
    ("NaN", "not a finite number"),
    ("Infinity", "not a finite number"),
    (Decimal("-Infinity"), "not a finite number"),
    ("0.0000001", "more than 6 decimal places"),
    ("1.0000015", "more than 6 decimal places"),
    ("100000000000000", "too large"),
    ("-100000000000000", "too large"),
    ("-1", "^the amount must not be negative$"),
    ("-0.000001", "^the amount must not be negative$"),
    ("0", "^the amount must not be zero$"),
    ("0.000000", "^the amount must not be zero$"),
])
def test_parse_credits_refuses_with_a_clear_message(value, message):
    with pytest.raises(InvalidAmount, match=message):
        money.parse_credits(value)


def test_invalid_amount_is_a_value_error():
    assert issubclass(InvalidAmount, ValueError)


def test_parse_credits_negative_and_zero_only_when_allowed():
    assert money.parse_credits("-2.5", allow_negative=True) == Decimal("-2.5")
    assert str(money.parse_credits("0", allow_zero=True)) == "0.000000"
    with pytest.raises(InvalidAmount, match="zero"):
        money.parse_credits("0", allow_negative=True)
    with pytest.raises(InvalidAmount, match="negative"):
        money.parse_credits("-1", allow_zero=True)
    with pytest.raises(InvalidAmount, match="too large"):
        money.parse_credits("-100000000000000", allow_negative=True)


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("1"), "1.000000"),
    (Decimal("1.5"), "1.500000"),
    (Decimal("-0.0000005"), "-0.000001"),
    (Decimal("2.0000004"), "2.000000"),
    (Decimal("1E+2"), "100.000000"),
])
def test_canonical_is_fixed_six_places(value, expected):
    assert money.canonical(value) == expected


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e14"),
                   max_value=Decimal("1e14")))
def test_canonical_is_the_six_place_format_of_the_rounded_value(value):
    # canonical() prints with str(), which is faster; the hashes need exactly this text.
    assert money.canonical(value) == f"{money.round_credits(value):.6f}"


@pytest.mark.parametrize(("value", "expected"), [
    (None, ""),
    (Decimal("1234567.5"), "1,234,567.50"),
    (Decimal("0"), "0.00"),
    (Decimal("0.000001"), "0.000001"),
    (Decimal("-12.340000"), "-12.34"),
    (Decimal("5.120"), "5.12"),
    (Decimal("5.123"), "5.123"),
])
def test_display_groups_and_trims_without_rounding(value, expected):
    assert money.display(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0.18000000000000002"), Decimal("0.1800000000")),
    (Decimal("0.00000000005"), Decimal("0.0000000001")),  # half up at the tenth place
    (Decimal("0.00000000004"), Decimal("0E-10")),
    (Decimal("2.5"), Decimal("2.5")),  # exact prices pass unchanged, exponent and all
    (Decimal("0.1234567891"), Decimal("0.1234567891")),
])
def test_round_price_brings_float_artefacts_to_ten_places(value, expected):
    rounded = money.round_price(value)
    assert rounded == expected
    assert rounded.as_tuple().exponent == expected.as_tuple().exponent


@pytest.mark.parametrize(("value", "expected"), [
    (None, ""),
    (Decimal("37.8408"), "37.84 USD"),
    (Decimal("0.0013425000000000"), "0.00 USD"),
    (Decimal("1234.005"), "1,234.01 USD"),  # half up, grouped
])
def test_usd_costs_read_as_money_with_the_code(value, expected):
    assert money.display_usd(value) == expected
