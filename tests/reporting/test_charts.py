"""reporting.charts: inline SVG that names its values for people without the picture."""

from decimal import Decimal

from reporting import charts


def test_column_chart_draws_a_bar_per_point_scaled_to_the_peak():
    svg = charts.column_chart([("01", Decimal("10")), ("02", Decimal("5")), ("03", Decimal(0))],
                              title="Credits a day", height=120)
    assert svg.count("<rect") == 3
    assert 'height="100.0"' in svg and 'height="50.0"' in svg and 'height="0"' in svg
    assert "<desc" in svg and "01: 10.00 credits; 02: 5.00 credits" in svg
    assert 'role="img"' in svg


def test_labels_are_escaped():
    svg = charts.bar_chart([("<script>", Decimal(1))], title="Top")
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_sparkline_of_nothing_is_flat_and_says_so():
    svg = charts.sparkline([Decimal(0)] * 3, title="Last 3 days")
    assert "0.00 credits in all" in svg and 'points="0.0,38.0 120.0,38.0 240.0,38.0"' in svg
