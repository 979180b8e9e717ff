"""Budgets in the admin: read only for staff. Org admins set them in the portal or the API
(billing/budgets/services.py), where each change is recorded in the settings history."""

from django.contrib import admin

from accounts.read_only_admin import ReadOnlyAdmin, ReadOnlyInline
from billing.models import Budget, BudgetMonth


class BudgetMonthInline(ReadOnlyInline):
    model = BudgetMonth
    fields = ("month", "credits", "warned_at", "exhausted_at")
    ordering = ("-month",)


@admin.register(Budget)
class BudgetAdmin(ReadOnlyAdmin):
    list_display = ("organization", "api_key", "user_label", "monthly_limit", "updated_at",
                    "updated_by")
    search_fields = ("organization__slug", "user_label", "api_key__name", "api_key__prefix")
    list_select_related = ("organization", "api_key", "updated_by")
    inlines = [BudgetMonthInline]
