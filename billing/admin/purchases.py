"""Packages (editable), purchases and Stripe events (read only), and staff refunds.

A refund started here asks Stripe to refund; the credits are taken back when
Stripe confirms with charge.refunded, by the same code as any other refund.
A purchase held for staff (an amount nothing explains) is granted or refunded by
the two "held" actions (docs/stripe.md, "Held purchases").
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.labelled_admin import LabelledModelFormSet
from accounts.read_only_admin import ReadOnlyAdmin
from billing.admin import permissions
from billing.admin.disputes import PurchaseDisputeInline
from billing.admin.figures import exact_credits
from billing.models import CreditPackage, Purchase, StripeCustomer, StripeEvent
from billing.models.purchases import currency_exponent, format_minor
from billing.payments.interface import PaymentError
from billing.payments.providers import provider_named
from billing.purchases import errors, held, refunds


@admin.register(CreditPackage)
class CreditPackageAdmin(admin.ModelAdmin):
    list_display = ["name", exact_credits("base_credits", "Base credits"),
                    exact_credits("bonus_credits", "Bonus credits"), "price", "currency", "active",
                    "sort_order"]
    list_editable = ["active", "sort_order"]
    list_filter = ["active", "currency"]
    search_fields = ["name"]

    @admin.display(description="Price")
    def price(self, obj):
        return format_minor(obj.price_minor, obj.currency)

    def get_changelist_formset(self, request, **kwargs):
        return super().get_changelist_formset(request, formset=LabelledModelFormSet, **kwargs)


def _start_refund(request, purchase: Purchase, amount_minor: int | None,
                  request_id: str | None = None) -> bool:
    try:
        refund = refunds.request_refund(purchase=purchase, amount_minor=amount_minor,
                                          requested_by=request.user, request_id=request_id)
    except (errors.PurchaseError, PaymentError) as error:
        messages.error(request, f"Purchase #{purchase.pk}: {error}")
        return False
    amount = format_minor(refund.get("amount"), purchase.currency)
    provider = provider_named(purchase.provider)
    if provider.refunds_at_once:
        messages.success(request, f"Purchase #{purchase.pk}: {provider.label} refund of "
                         f"{amount} applied.")
    else:
        messages.success(request, f"Purchase #{purchase.pk}: {provider.label} refund "
                         f"{refund.get('id')} of {amount} requested; credits are taken back "
                         f"when {provider.label} confirms it.")
    return True


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.001"), max_digits=14, decimal_places=3,
                                help_text="In the purchase's currency, e.g. 12.50")
    # Minted when the form is shown: a double submit sends the same id, so Stripe refunds once.
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(self, *args, purchase: Purchase, **kwargs):
        super().__init__(*args, **kwargs)
        self.purchase = purchase
        self.fields["amount"].label = f"Amount ({purchase.currency.upper()})"

    def clean_amount(self):
        scaled = self.cleaned_data["amount"].scaleb(currency_exponent(self.purchase.currency))
        if scaled != scaled.to_integral_value():
            raise forms.ValidationError("Too many decimal places for this currency.")
        return int(scaled)  # minor units


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = ["id", "organization", "package_name", "amount",
                    exact_credits("total_credits", "Credits", sortable=False), "status",
                    "provider", "buyer", "created_at", "paid_at"]
    list_filter = ["status", "provider"]
    search_fields = ["=id", "organization__slug", "stripe_checkout_session_id",
                     "stripe_payment_intent_id", "stripe_charge_id", "buyer__email"]
    list_select_related = ["organization", "buyer"]
    actions = ["refund_in_full", "partial_refund", "grant_held", "refund_held"]
    inlines = [PurchaseDisputeInline]
    readonly_fields = [
        "organization", "package", "package_name", "base_credits", "bonus_credits", "amount",
        "status", "buyer", "provider", "stripe_checkout_session_id", "stripe_customer_id",
        "stripe_payment_intent_id", "stripe_charge_id", "stripe_invoice_id", "receipt_url",
        "amount_paid_minor", "amount_subtotal_minor", "amount_discount_minor",
        "amount_tax_minor", "amount_refunded_minor", "credits_refunded", "credits_disputed",
        "failure_reason",
        "entry", "bonus_entry", "paid_grant", "bonus_grant", "created_at", "paid_at",
        "updated_at", "refund_link",
    ]
    fields = readonly_fields

    def get_actions(self, request):  # ReadOnlyAdmin hides actions; these two are ours
        return admin.ModelAdmin.get_actions(self, request)

    def has_refund_permission(self, request):
        return request.user.has_perm(permissions.REFUND_PURCHASE)

    def has_resolve_held_permission(self, request):
        return request.user.has_perm(permissions.RESOLVE_HELD_PURCHASE)

    @admin.action(description="Held: grant the package's credits", permissions=["resolve_held"])
    def grant_held(self, request, queryset):
        permissions.require(request, permissions.RESOLVE_HELD_PURCHASE)
        for purchase in queryset:
            try:
                held.grant_held_purchase(purchase=purchase, granted_by=request.user)
            except errors.PurchaseError as error:
                messages.error(request, f"Purchase #{purchase.pk}: {error}")
                continue
            messages.success(request, f"Purchase #{purchase.pk}: {purchase.total_credits} "
                             "credits granted.")

    @admin.action(description="Held: refund the payment in full", permissions=["resolve_held"])
    def refund_held(self, request, queryset):
        permissions.require(request, permissions.RESOLVE_HELD_PURCHASE)
        for purchase in queryset:
            try:
                refund = held.refund_held_purchase(purchase=purchase, refunded_by=request.user)
            except (errors.PurchaseError, PaymentError) as error:
                messages.error(request, f"Purchase #{purchase.pk}: {error}")
                continue
            messages.success(request, f"Purchase #{purchase.pk}: refund {refund.get('id')} "
                             "requested.")

    @admin.display(description="Amount")
    def amount(self, obj):
        return format_minor(obj.price_minor, obj.currency)

    @admin.display(description="Refund")
    def refund_link(self, obj):
        if not obj.refundable_minor:
            return "—"
        url = reverse("admin:billing_purchase_refund", args=[obj.pk])
        return format_html('<a href="{}">Refund part or all…</a>', url)

    @admin.action(description="Refund in full (through the payment provider)",
                  permissions=["refund"])
    def refund_in_full(self, request, queryset):
        permissions.require(request, permissions.REFUND_PURCHASE)
        for purchase in queryset:
            _start_refund(request, purchase, None)

    @admin.action(description="Partial refund (amount)…", permissions=["refund"])
    def partial_refund(self, request, queryset):
        permissions.require(request, permissions.REFUND_PURCHASE)
        if queryset.count() != 1:
            messages.error(request, "Choose exactly one purchase for a partial refund.")
            return None
        return redirect("admin:billing_purchase_refund", queryset.first().pk)

    def get_urls(self):
        return [
            path("<int:pk>/refund/", self.admin_site.admin_view(self.refund_view),
                 name="billing_purchase_refund"),
            *super().get_urls(),
        ]

    def refund_view(self, request, pk):
        permissions.require(request, permissions.REFUND_PURCHASE)
        purchase = get_object_or_404(Purchase.objects.select_related("organization"), pk=pk)
        form = RefundForm(request.POST or None, purchase=purchase)
        if request.method == "POST" and form.is_valid():
            if _start_refund(request, purchase, form.cleaned_data["amount"],
                             str(form.cleaned_data["request_id"])):
                return redirect("admin:billing_purchase_change", purchase.pk)
        return TemplateResponse(request, "admin/billing/purchase_refund.html", {
            **self.admin_site.each_context(request), "title": f"Refund purchase #{purchase.pk}",
            "form": form, "purchase": purchase,
            "paid": format_minor(purchase.amount_paid_minor, purchase.currency),
            "refunded": format_minor(purchase.amount_refunded_minor, purchase.currency),
            "refundable": format_minor(purchase.refundable_minor, purchase.currency),
        })


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ["organization", "customer_id", "created_at"]
    search_fields = ["organization__slug", "customer_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "received_at", "processed_at", "attempts", "has_error"]
    list_filter = ["type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["=event_id", "type"]
    readonly_fields = ["event_id", "type", "livemode", "payload", "received_at", "processed_at",
                       "attempts", "last_error"]
    fields = readonly_fields

    @admin.display(boolean=True, description="Error")
    def has_error(self, obj):
        return bool(obj.last_error) and obj.processed_at is None
