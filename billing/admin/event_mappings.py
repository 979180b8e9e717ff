"""Event mappings in the admin: which meter or AI model a Stripe event_name or CloudEvents
type is charged to, and where its value, user and group-by are (docs/integrate.md)."""

from django.contrib import admin

from billing.models import EventMapping


@admin.register(EventMapping)
class EventMappingAdmin(admin.ModelAdmin):
    list_display = ["event_name", "meter", "ai_model", "value_path", "user_path",
                    "operation_path", "updated_at"]
    search_fields = ["event_name"]
    list_select_related = ["meter", "ai_model"]
    autocomplete_fields = ["meter", "ai_model"]
    fieldsets = [
        (None, {"fields": ["event_name", "meter", "ai_model"]}),
        ("Where the values are", {"fields": ["value_path", "input_tokens_path",
                                             "output_tokens_path", "user_path",
                                             "operation_path"]}),
    ]
