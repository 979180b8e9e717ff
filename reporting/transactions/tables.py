"""The transactions table (django-tables2): amounts as people read them, two places.

The rows are one keyset page already in order (transactions/pages.py). django-tables2
draws the header: the columns and the sort links for the two orders the page can
serve fast, by entry (time) and by amount. The body is drawn here, one
format_html call a row (`body_rows`): django-tables2's per-cell machinery (an
accessor, a render call found by signature inspection and a template per date
cell) cost more than the page's queries (bench/history.md, "Reporting pages at
ten million rows"). The cells are the same markup it drew. The view draws the table
with `as_html(request)`, not the `render_table` tag, which renders its template
with the request's context processors a second time (their queries included).
"""

import django_tables2 as tables
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing import money
from billing.models import LedgerEntry
from reporting.transactions.usage_summary import (
    NONE,
    UsageSummary,
    UsedSpan,
    summaries,
    used_spans,
)

REASON_CHARS = 40
WHEN_FORMAT = "Y-m-d H:i"
DAY_FORMAT = "Y-m-d"
# Each cell's data-label is its column's header: a phone shows the rows stacked, each
# value beside its label (static/css/site.css, table.stack).
ROW_HTML = (
    '<td data-label="Entry"><a href="{}">#{}</a></td>'
    '<td class="when" data-label="Charged (UTC)">{}</td>'
    '<td class="when" data-label="Used (UTC)">{}</td><td data-label="Kind">{}</td>'
    '<td class="num" data-label="Amount"><span class="{}">{}{}</span></td>'
    '<td class="num" data-label="Balance after">{}</td>'
    '<td class="text" data-label="By">{}</td>'
    '<td class="names" data-label="Model or meter">{}</td>'
    '<td class="names" data-label="Operation">{}</td>'
    '<td class="text reason" data-label="Reason">{}</td>'
)


class TransactionTable(tables.Table):
    id = tables.Column(verbose_name="Entry", order_by=("id",))
    created_at = tables.DateTimeColumn(verbose_name="Charged (UTC)", format=WHEN_FORMAT,
                                       orderable=False, attrs={"td": {"class": "when"}})
    # When a usage entry's events happened (usage_summary.used_spans); blank for others.
    used = tables.Column(verbose_name="Used (UTC)", orderable=False, empty_values=(),
                         attrs={"td": {"class": "when"}})
    kind = tables.Column(verbose_name="Kind", orderable=False)
    amount = tables.Column(verbose_name="Amount", order_by=("amount",),
                           attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    balance_after = tables.Column(verbose_name="Balance after", orderable=False,
                                  attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    actor_label = tables.Column(verbose_name="By", orderable=False)
    # Drawn from usage_summary (a usage entry's events), not by an accessor.
    resource = tables.Column(verbose_name="Model or meter", orderable=False, default="")
    operation = tables.Column(verbose_name="Operation", orderable=False, default="")
    reason = tables.Column(verbose_name="Reason", orderable=False)

    class Meta:
        model = LedgerEntry
        fields = ("id", "created_at", "used", "kind", "amount", "balance_after", "actor_label",
                  "resource", "operation", "reason")
        order_by_field = "sort"
        attrs = {"class": "transactions stack", "data-testid": "transactions"}
        empty_text = "No transactions match."
        template_name = "reporting/_transactions_table.html"

    def __init__(self, rows, *args, org_slug: str, **kwargs):
        self.org_slug = org_slug
        self.page_rows = rows
        super().__init__(rows, *args, **kwargs)

    def body_rows(self) -> list[SafeString]:
        """Each row's cells (ROW_HTML, in the columns' order), escaped by format_html."""
        # One reverse() for the page: an entry's URL differs only by its id.
        url = reverse("entry_detail", args=[self.org_slug, 0])
        prefix = url[: url.rindex("/0/") + 1]
        rows = [(e.pk, e.kind, e.metadata) for e in self.page_rows]
        usage, spans = summaries(rows), used_spans(rows)
        return [_row_html(entry, prefix, usage.get(entry.pk, NONE), spans.get(entry.pk))
                for entry in self.page_rows]


def used_text(span: UsedSpan | None) -> str:
    """One event's moment, one day, or the first and last day of a charge's events."""
    if span is None:
        return ""
    first, last = timezone.localtime(span.first), timezone.localtime(span.last)
    if first == last:
        return dateformat.format(first, WHEN_FORMAT)
    if first.date() == last.date():
        return dateformat.format(first, DAY_FORMAT)
    return f"{dateformat.format(first, DAY_FORMAT)} \u2013 {dateformat.format(last, DAY_FORMAT)}"


def _row_html(entry: LedgerEntry, entry_url_prefix: str, usage: UsageSummary,
              span: UsedSpan | None) -> SafeString:
    amount = entry.amount
    return format_html(
        ROW_HTML,
        f"{entry_url_prefix}{entry.pk}/", entry.pk,
        dateformat.format(timezone.localtime(entry.created_at), WHEN_FORMAT),
        used_text(span),
        entry.get_kind_display(),
        "pos" if amount > 0 else "neg", "+" if amount > 0 else "\u2212",
        money.display_rounded(abs(amount)),
        money.display_rounded(entry.balance_after),
        entry.actor_label,
        usage.resource,
        usage.operation,
        shortened(entry.reason),
    )


def shortened(reason: str) -> str:
    return reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS - 1] + "\u2026"
