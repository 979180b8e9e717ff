"""Read-only ledger admin. Staff corrections go through the posting services."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.read_only_admin import ReadOnlyAdmin, ReadOnlyInline
from billing import money
from billing.admin import permissions
from billing.admin.figures import exact_credits
from billing.ledger.actor import Actor
from billing.ledger.corrections import adjust_credits, reverse_entry
from billing.ledger.errors import LedgerError
from billing.models import (
    CreditAccount,
    CreditGrant,
    Dispute,
    GrantAllocation,
    LedgerEntry,
)
from billing.models.disputes import UNSETTLED_DISPUTES


class AdjustmentForm(forms.Form):
    credits = forms.DecimalField(
        **money.CREDITS_FIELD, help_text="Positive adds a grant; negative removes "
        "credits in burn-down order and may leave a debt.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
    # Minted when the form is shown: a double submit sends the same id and posts once.
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_credits(self):
        try:
            return money.parse_credits(self.cleaned_data["credits"], allow_negative=True)
        except money.InvalidAmount as error:
            raise forms.ValidationError(str(error)) from None


class ReversalForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


def _staff_form_view(request, *, permission, title, form, obj, done_url, action):
    permissions.require(request, permission)
    if request.method == "POST" and form.is_valid():
        try:
            posting = action(form.cleaned_data)
        except LedgerError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Posted entry #{posting.entry.pk}; balance now "
                             f"{money.display_exact(posting.entry.balance_after)}.")
            return redirect(done_url)
    return TemplateResponse(request, "admin/billing/staff_form.html", {
        **admin.site.each_context(request), "title": title, "form": form, "object": obj,
    })


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["organization", exact_credits("balance", "Balance"), "in_debt",
                    "open_disputes", "entry_count", "updated_at", "adjust_link"]
    search_fields = ["organization__name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = ["organization", "balance", "entry_count", "last_hash", "updated_at"]
    fields = readonly_fields

    @admin.display(boolean=True)
    def in_debt(self, obj):
        return obj.balance < 0

    @admin.display(description="Open disputes")
    def open_disputes(self, obj):
        count = Dispute.objects.filter(organization_id=obj.organization_id,
                                       status__in=UNSETTLED_DISPUTES).count()
        if not count:
            return "—"
        url = reverse("admin:billing_dispute_changelist")
        return format_html('<a href="{}?q={}&status__exact=open"><strong>{} open'
                           '</strong></a>', url, obj.organization.slug, count)

    @admin.display(description="Adjustment")
    def adjust_link(self, obj):
        url = reverse("admin:billing_creditaccount_adjust", args=[obj.pk])
        return format_html('<a href="{}">Post adjustment</a>', url)

    def get_urls(self):
        return [
            path("<int:pk>/adjust/", self.admin_site.admin_view(self.adjust_view),
                 name="billing_creditaccount_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk):
        account = get_object_or_404(CreditAccount.objects.select_related("organization"), pk=pk)
        form = AdjustmentForm(request.POST or None)
        return _staff_form_view(
            request, permission=permissions.POST_ADJUSTMENT,
            title=f"Post an adjustment to {account.organization}", form=form,
            obj=account, done_url=reverse("admin:billing_creditaccount_changelist"),
            action=lambda data: adjust_credits(
                organization=account.organization, credits=data["credits"],
                reason=data["reason"], actor=Actor.user(request.user),
                request_id=str(data["request_id"])),
        )


@admin.register(CreditGrant)
class CreditGrantAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "kind", exact_credits("amount", "Amount"),
                    exact_credits("remaining", "Remaining"), "priority", "expires_at",
                    "expired_at", "created_at"]
    list_filter = ["kind"]
    search_fields = ["account__organization__slug"]
    list_select_related = ["account__organization"]


class AllocationInline(ReadOnlyInline):
    model = GrantAllocation
    fields = ["grant", "amount"]
    readonly_fields = fields


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "kind", exact_credits("amount", "Amount"),
                    exact_credits("balance_after", "Balance after"), "actor_label", "created_at"]
    list_filter = ["kind", "actor_type"]
    search_fields = ["=id", "account__organization__slug", "idempotency_key", "actor_label"]
    list_select_related = ["account__organization"]
    show_full_result_count = False  # counting ten million rows on every page load is slow
    inlines = [AllocationInline]
    readonly_fields = ["account", "seq", "kind", "amount", "balance_after", "actor_type",
                       "actor_user", "actor_api_key", "actor_label", "reason", "idempotency_key",
                       "fingerprint", "reverses", "metadata", "created_at", "hash",
                       "reverse_link"]
    fields = readonly_fields

    @admin.display(description="Correction")
    def reverse_link(self, obj):
        url = reverse("admin:billing_ledgerentry_reverse", args=[obj.pk])
        return format_html('<a href="{}">Reverse this entry…</a>', url)

    def get_urls(self):
        return [
            path("<int:pk>/reverse/", self.admin_site.admin_view(self.reverse_view),
                 name="billing_ledgerentry_reverse"),
            *super().get_urls(),
        ]

    def reverse_view(self, request, pk):
        entry = get_object_or_404(LedgerEntry.objects.select_related("account__organization"),
                                  pk=pk)
        form = ReversalForm(request.POST or None)
        return _staff_form_view(
            request, permission=permissions.REVERSE_ENTRY,
            title=f"Reverse entry #{entry.pk} ({entry.get_kind_display()}, "
            f"{money.display_exact(entry.amount)})", form=form, obj=entry,
            done_url=reverse("admin:billing_ledgerentry_change", args=[entry.pk]),
            action=lambda data: reverse_entry(entry=entry, reason=data["reason"],
                                              actor=Actor.user(request.user)),
        )
