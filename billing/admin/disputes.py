"""Disputes, read only, where staff look: their own list, each purchase, each organisation,
and an open-disputes flag on the credit accounts list (billing/admin/ledger.py)."""

from django.contrib import admin

from accounts.models import Organization
from accounts.read_only_admin import ReadOnlyAdmin, ReadOnlyInline
from billing.admin.figures import exact_credits, minor_money
from billing.models import Dispute

FIELDS = ["dispute_id", "purchase", "topup_attempt", "amount_minor", "currency", "reason",
          "status", "stripe_status",
          "credits_taken", "taken_entry", "restored_entry", "created_at", "closed_at"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ["dispute_id", "organization", "purchase", "topup_attempt",
                    minor_money("amount_minor", "Amount"), "status",
                    exact_credits("credits_taken", "Credits taken"), "created_at", "closed_at"]
    list_filter = ["status"]
    search_fields = ["=dispute_id", "organization__slug", "charge_id"]
    list_select_related = ["organization", "purchase", "topup_attempt"]
    readonly_fields = ["organization", "charge_id", *FIELDS]
    fields = readonly_fields


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = FIELDS
    readonly_fields = FIELDS
    fk_name = None


class PurchaseDisputeInline(DisputeInline):
    fk_name = "purchase"


class OrganizationDisputeInline(DisputeInline):
    fk_name = "organization"
    verbose_name_plural = "disputes (chargebacks)"


def show_disputes_on_organizations(site=admin.site) -> None:
    """accounts knows nothing of billing: billing adds its inline to the org's change page
    (not the add page: a new organisation has no disputes, and its form posts no inline)."""
    org_admin = site._registry.get(Organization)
    if org_admin is None or getattr(org_admin, "shows_disputes", False):
        return
    own_inlines = org_admin.get_inline_instances

    def get_inline_instances(request, obj=None):
        inlines = own_inlines(request, obj)
        if obj is not None:
            inlines.append(OrganizationDisputeInline(Organization, site))
        return inlines

    org_admin.get_inline_instances = get_inline_instances
    org_admin.shows_disputes = True


show_disputes_on_organizations()
