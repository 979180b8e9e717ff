from django.contrib import admin

from reporting.models import DailyUsage


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """The rollup is derived data written by the ingestion service: read only."""

    list_display = ("day", "organization", "usage_type", "resource", "operation", "user_label",
                    "event_count", "credits")
    list_filter = ("usage_type",)
    search_fields = ("organization__slug", "resource", "operation", "user_label")
    date_hierarchy = "day"
    list_select_related = ("organization",)
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
