"""The transactions table (django-tables2): amounts as people read them, two places.

The rows are one keyset page already in order (transactions/pages.py); the table
renders them and draws the sort links for the two orders the page can serve
fast: by entry (time) and by amount.
"""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from billing import money
from billing.models import LedgerEntry

REASON_CHARS = 40


class TransactionTable(tables.Table):
    id = tables.Column(verbose_name="Entry", order_by=("id",))
    created_at = tables.DateTimeColumn(verbose_name="When (UTC)", format="Y-m-d H:i",
                                       orderable=False, attrs={"td": {"class": "when"}})
    kind = tables.Column(verbose_name="Kind", orderable=False)
    amount = tables.Column(verbose_name="Amount", order_by=("amount",),
                           attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    balance_after = tables.Column(verbose_name="Balance after", orderable=False,
                                  attrs={"th": {"class": "num"}, "td": {"class": "num"}})
    actor_label = tables.Column(verbose_name="By", orderable=False)
    resource = tables.Column(verbose_name="Model or meter", accessor="usage_event__resource",
                             orderable=False, default="")
    operation = tables.Column(verbose_name="Operation", accessor="usage_event__operation",
                              orderable=False, default="")
    reason = tables.Column(verbose_name="Reason", orderable=False)

    class Meta:
        model = LedgerEntry
        fields = ("id", "created_at", "kind", "amount", "balance_after", "actor_label",
                  "resource", "operation", "reason")
        order_by_field = "sort"
        attrs = {"class": "transactions", "data-testid": "transactions"}
        empty_text = "No transactions match."

    def __init__(self, *args, org_slug: str, **kwargs):
        self.org_slug = org_slug
        super().__init__(*args, **kwargs)

    def render_id(self, record):
        url = reverse("entry_detail", args=[self.org_slug, record.pk])
        return format_html('<a href="{}">#{}</a>', url, record.pk)

    def render_kind(self, record):
        return record.get_kind_display()

    def render_amount(self, value):
        sign = "+" if value > 0 else "\u2212"
        css = "pos" if value > 0 else "neg"
        return format_html('<span class="{}">{}{}</span>', css, sign,
                           money.display_rounded(abs(value)))

    def render_balance_after(self, value):
        return money.display_rounded(value)

    def render_reason(self, value):
        return value if len(value) <= REASON_CHARS else value[:REASON_CHARS - 1] + "\u2026"
