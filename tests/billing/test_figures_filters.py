"""`{% load figures %}`: one way to show each kind of number, and templates use only it.

The old ways each fail here: a balance shown unrounded (6,459.106349 beside 6,459.11),
counts without separators (2028), quantities through the credits filter (0.000125 GB as
0.00) or Decimal.normalize() (1000 as 1E+3), a cost as "$37.8408", prices per credit to
five places.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template

from billing import money


def shown(expression: str, **context) -> str:
    return Template("{% load figures %}" + expression).render(Context(context))


@pytest.mark.parametrize(("expression", "value", "text"), [
    ("{{ v|credits }}", Decimal("6459.106349"), "6,459.11"),
    ("{{ v|credits }}", Decimal("0.005"), "0.01"),  # half up
    ("{{ v|signed_credits }}", Decimal("-1234.5"), "\u22121,234.50"),
    ("{{ v|credits_exact }}", Decimal("6459.1"), "6,459.100000"),
    ("{{ v|signed_credits_exact }}", Decimal("4"), "+4.000000"),
    ("{{ v|usd }}", Decimal("37.8408"), "37.84 USD"),
    ("{{ v|usd_exact }}", Decimal("0.0013425000000000"), "0.0013425 USD"),
    ("{{ v|usd_exact }}", Decimal("1234.5"), "1,234.50 USD"),
    ("{{ v|count }}", 2028, "2,028"),
    ("{{ v|count }}", 7, "7"),
    ("{{ v|quantity }}", Decimal("0.000125"), "0.000125"),
    ("{{ v|quantity:'GB' }}", Decimal("1000.000000"), "1,000 GB"),
    ("{{ v|quantity:'GB' }}", Decimal("1E+3"), "1,000 GB"),
    ("{{ v|quantity:'tokens' }}", Decimal("1234567"), "1,234,567 tokens"),
    ("{{ v|number }}", Decimal("1.2000"), "1.2"),
    ("{{ v|number }}", Decimal("0.0000025000"), "0.0000025"),
    ("{{ v|percent }}", Decimal("10"), "10%"),
    # A number field's value: what it shows is what it sends back.
    ("{{ v|field_value }}", Decimal("1000.000000"), "1000"),
    ("{{ v|field_value }}", Decimal("1E+3"), "1000"),
    ("{{ v|field_value }}", Decimal("12.500000"), "12.5"),
    ("{{ v|percent }}", Decimal("200") / 3, "66.7%"),
])
def test_each_kind_of_number_has_one_form(expression, value, text):
    assert shown(expression, v=value) == text


def test_card_money_is_shown_from_its_minor_units_with_its_code():
    assert shown('{{ v|money_minor:"usd" }}', v=4500) == "45.00 USD"
    assert shown('{{ v|money_minor:"usd" }}', v=123456789) == "1,234,567.89 USD"
    assert shown('{{ v|money_minor:"jpy" }}', v=4500) == "4,500 JPY"  # no minor unit


def test_nothing_shows_as_nothing():
    for name in ("credits", "credits_exact", "usd", "usd_exact", "count", "quantity", "number",
                 "percent", "signed_credits", "field_value"):
        assert shown(f"{{{{ v|{name} }}}}", v=None) == "", name


def test_exports_write_a_usd_cost_to_sixteen_places_always():
    assert money.export_usd("0.0013425") == "0.0013425000000000"
    assert money.export_usd(Decimal("0.0013425000000000")) == "0.0013425000000000"
    assert money.export_usd(Decimal(0)) == "0.0000000000000000"
    assert money.export_usd("37.84") == "37.8400000000000000"
    assert money.export_usd("") == "" and money.export_usd(None) == ""


TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The ways of showing numbers that figures.py replaced; none may come back.
OTHER_WAYS = {
    "humanize's intcomma": re.compile(r"\|intcomma\b|\{%\s*load[^%]*\bhumanize\b"),
    "floatformat": re.compile(r"\|floatformat\b"),
    "Decimal.normalize (1E+3)": re.compile(r"\.normalize\b"),
    "a dollar sign before a figure": re.compile(r"\$\{\{"),
    "the old credits and purchases libraries": re.compile(
        r"\{%\s*load[^%]*\b(credits|purchases)\b"),
}


@pytest.mark.parametrize("way", OTHER_WAYS)
def test_no_template_shows_numbers_another_way(way):
    found = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
             if OTHER_WAYS[way].search(path.read_text())]
    assert found == [], f"{way} in {found}"


def test_a_quantity_is_never_shown_as_credits():
    found = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
             if re.search(r"quantity\|credits", path.read_text())]
    assert found == []
