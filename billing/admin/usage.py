"""Usage events and the daily rollup in the admin: read only, like the ledger entries
they explain (the rollup is derived data written by the ingestion service)."""

import json

from django.contrib import admin
from django.utils.html import format_html

from accounts.read_only_admin import ReadOnlyAdmin
from billing.models import DailyUsage, QueuedUsageEvent, UsageEvent


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "organization", "idempotency_key", "type", "resource",
                    "name_sent", "operation", "user_label", "quantity", "credits", "entry_link")
    list_filter = ("type", "resource")
    search_fields = ("idempotency_key", "organization__slug", "user_label", "operation",
                     "name_sent")
    date_hierarchy = "occurred_at"
    list_select_related = ("organization", "entry")
    show_full_result_count = False  # no COUNT(*) over millions of rows
    readonly_fields = ("breakdown_pretty",)
    exclude = ("breakdown",)

    @admin.display(description="Ledger entry")
    def entry_link(self, obj):
        if obj.entry_id is None:
            return "—"
        return format_html('<a href="../ledgerentry/{}/change/">#{}</a>', obj.entry_id,
                           obj.entry_id)

    @admin.display(description="Breakdown")
    def breakdown_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.breakdown, indent=2))


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    """The rollup is derived data written by the ingestion service: read only."""

    list_display = ("day", "organization", "usage_type", "resource", "operation", "user_label",
                    "event_count", "credits")
    list_filter = ("usage_type",)
    search_fields = ("organization__slug", "resource", "operation", "user_label")
    date_hierarchy = "day"
    list_select_related = ("organization",)
    show_full_result_count = False


@admin.register(QueuedUsageEvent)
class QueuedUsageEventAdmin(ReadOnlyAdmin):
    """The asynchronous queue: what waits, and what each event became (docs/operate.md)."""

    list_display = ("received_at", "organization", "idempotency_key", "status", "credits",
                    "error_code", "processed_at")
    list_filter = ("status",)
    search_fields = ("idempotency_key", "organization__slug")
    date_hierarchy = "received_at"
    list_select_related = ("organization",)
    show_full_result_count = False
    readonly_fields = ("payload_pretty",)
    exclude = ("payload",)

    @admin.display(description="Error")
    def error_code(self, obj):
        return (obj.error or {}).get("code", "—")

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2))
