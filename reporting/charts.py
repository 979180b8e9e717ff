"""Charts as inline SVG, drawn on the server: readable without JavaScript or a CDN.

Each chart carries a <title> and a <desc> naming every value, so a screen reader
(and a text browser) gets the numbers; the pages also show them in a table.
Geometry is worked out in Decimal like everything near money here; the values
drawn are credits.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing import money

STEP = Decimal("0.1")


def _q(value: Decimal) -> Decimal:
    return value.quantize(STEP, rounding=ROUND_HALF_UP)


def _scale(value: Decimal, peak: Decimal, size: int) -> Decimal:
    if peak <= 0 or value <= 0:
        return Decimal(0)
    return _q(Decimal(size) * value / peak)


def _desc(points: list[tuple[str, Decimal]]) -> str:
    return "; ".join(f"{label}: {money.display_rounded(value)} credits" for label, value in points)


# The column chart's bands above and below its bars, for the peak's label and the first
# and last days' labels: tall enough for the larger text a phone gets (static/css/site.css).
BAND = 30
NO_USAGE = "No usage this month."


def column_chart(points: list[tuple[str, Decimal]], *, title: str, width: int = 720,
                 height: int = 180) -> SafeString:
    """Vertical bars, one per point (days of a month), with the first and last labels; the
    peak's label above the bars, never under the tallest; an empty month says so."""
    n = max(len(points), 1)
    peak = max((v for _, v in points), default=Decimal(0))
    slot = Decimal(width) / n
    bar = _q(slot * Decimal("0.8"))
    base = height - BAND
    plot = base - BAND
    bars = []
    for i, (label, value) in enumerate(points):
        h = _scale(value, peak, plot)
        bars.append((_q(slot * i + slot * Decimal("0.1")), _q(base - h), bar, h, label,
                     money.display_rounded(value)))
    rects = format_html_join(
        "", '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}: {} credits'
            '</title></rect>', bars)
    first = points[0][0] if points else ""
    last = points[-1][0] if points else ""
    top = (f"peak {money.display_rounded(peak)}" if peak > 0 else NO_USAGE)
    return format_html(
        '<svg class="chart columns" role="img" viewBox="0 0 {w} {h}" width="100%" '
        'aria-labelledby="{id}-t {id}-d">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>'
        '<line class="axis" x1="0" y1="{base}" x2="{w}" y2="{base}"/>{rects}'
        '<text x="0" y="{ty}" class="tick">{first}</text>'
        '<text x="{w}" y="{ty}" class="tick" text-anchor="end">{last}</text>'
        '<text x="0" y="{peak_y}" class="tick">{top}</text></svg>',
        w=width, h=height, id=_id(title), title=title, desc=_desc(points) or NO_USAGE,
        base=base, rects=rects, ty=height - 6, first=first, last=last, top=top,
        peak_y=BAND - 8,
    )


def bar_chart(points: list[tuple[str, Decimal]], *, title: str, width: int = 480) -> SafeString:
    """Horizontal bars with their label and value, largest first as given; none says so."""
    row = 26
    label_w, value_w = 210, 100
    plot = width - label_w - value_w
    peak = max((v for _, v in points), default=Decimal(0))
    rows = []
    for i, (label, value) in enumerate(points):
        y = i * row
        rows.append((y + 17, _truncate(label), label_w, y + 5, _scale(value, peak, plot),
                     width, y + 17, money.display_rounded(value)))
    body = format_html_join(
        "", '<text x="0" y="{}" class="label">{}</text>'
            '<rect class="bar" x="{}" y="{}" height="16" width="{}"/>'
            '<text x="{}" y="{}" class="value" text-anchor="end">{}</text>', rows)
    if not points:
        body = format_html('<text x="0" y="17" class="tick">{}</text>', NO_USAGE)
    height = max(len(points), 1) * row
    return format_html(
        '<svg class="chart bars" role="img" viewBox="0 0 {w} {h}" width="100%" '
        'aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{title}</title>'
        '<desc id="{id}-d">{desc}</desc>{body}</svg>',
        w=width, h=height, id=_id(title), title=title, desc=_desc(points) or NO_USAGE,
        body=body,
    )


def sparkline(values: list[Decimal], *, title: str, width: int = 240,
              height: int = 40) -> SafeString:
    """A line through the values (oldest first), as wide as its card."""
    peak = max(values, default=Decimal(0))
    n = len(values)
    step = Decimal(width) / max(n - 1, 1)
    coords = " ".join(
        f"{_q(step * i)},{_q(Decimal(height - 2) - _scale(v, peak, height - 4))}"
        for i, v in enumerate(values)
    )
    total = sum(values, Decimal(0))
    return format_html(
        '<svg class="sparkline" role="img" viewBox="0 0 {w} {h}" width="100%" height="{h}" '
        'preserveAspectRatio="none" aria-labelledby="{id}-t"><title id="{id}-t">{title}: '
        '{total} credits in all, peak {peak} a day</title>'
        '<polyline points="{coords}" vector-effect="non-scaling-stroke"/></svg>',
        w=width, h=height, id=_id(title), title=title, total=money.display_rounded(total),
        peak=money.display_rounded(peak), coords=coords,
    )


def _truncate(label: str, size: int = 22) -> str:
    label = label or "(none)"
    return label if len(label) <= size else label[: size - 1] + "\u2026"


def _id(title: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())
