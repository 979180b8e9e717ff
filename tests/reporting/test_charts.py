"""reporting.charts: inline SVG that names its values for people without the picture."""

import re
from decimal import Decimal

from reporting import charts


def test_column_chart_draws_a_bar_per_point_scaled_to_the_peak():
    svg = charts.column_chart([("01", Decimal("10")), ("02", Decimal("5")), ("03", Decimal(0))],
                              title="Credits a day", height=160)
    assert svg.count("<rect") == 3
    assert 'height="100.0"' in svg and 'height="50.0"' in svg and 'height="0"' in svg
    assert "<desc" in svg and "01: 10.00 credits; 02: 5.00 credits" in svg
    assert 'role="img"' in svg


def test_the_peak_label_sits_above_the_tallest_bar():
    svg = charts.column_chart([("01", Decimal("10")), ("02", Decimal("5"))], title="Days")
    tallest_top = float(re.search(r'<rect class="bar" x="[^"]+" y="([^"]+)"', svg).group(1))
    peak_baseline = float(re.search(r'<text x="0" y="([^"]+)" class="tick">peak', svg).group(1))
    assert peak_baseline < tallest_top


def test_an_empty_month_says_so_in_every_chart():
    days = charts.column_chart([("01", Decimal(0)), ("02", Decimal(0))], title="Days")
    types = charts.bar_chart([], title="By type")
    assert "No usage this month." in days and "peak" not in days
    assert "No usage this month." in types


def test_labels_are_escaped():
    svg = charts.bar_chart([("<script>", Decimal(1))], title="Top")
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_sparkline_of_nothing_is_flat_and_says_so():
    svg = charts.sparkline([Decimal(0)] * 3, title="Last 3 days")
    assert "0.00 credits in all" in svg and 'points="0.0,38.0 120.0,38.0 240.0,38.0"' in svg
