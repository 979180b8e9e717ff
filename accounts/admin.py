from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.invitations import withdraw_invitation
from accounts.labelled_admin import LabelledInlineFormSet
from accounts.models import (
    ApiKey,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    SettingsChange,
    User,
)
from accounts.read_only_admin import ReadOnlyAdmin, ReadOnlyPermissions


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    # Plain multiple selects: the two-box chooser's script draws icons with an aria-label
    # that a <span> may not carry (axe-core, aria-prohibited-attr).
    filter_horizontal = ()
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = LabelledInlineFormSet
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "created_at"]
    list_filter = ["plan"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Shows the prefix only: the raw key is never stored, and the digest is not shown.
    Keys are created in the portal or by create_api_key (shown once) and revoked, never
    deleted, so usage stays attributed to its key."""

    list_display = ["name", "organization", "prefix", "created_at", "last_used", "revoked_at"]
    list_filter = ["organization"]
    search_fields = ["name", "prefix", "organization__name"]
    fields = ["organization", "name", "prefix", "created_by", "created_at", "last_used",
              "revoked_at", "revoked_by"]
    readonly_fields = fields


@admin.register(SettingsChange)
class SettingsChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "actor_label", "area", "summary"]
    list_filter = ["area"]
    search_fields = ["organization__name", "actor_label", "summary"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    """Invitations are answered by the invitee only; staff see them and may withdraw."""

    list_display = ["email", "organization", "role", "status", "invited_by", "created_at",
                    "expires_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "organization__name", "organization__slug"]
    actions = ["withdraw"]

    @admin.action(description="Withdraw the selected pending invitations")
    def withdraw(self, request, queryset):
        pending = queryset.filter(status=InvitationStatus.PENDING).select_related("organization")
        for invitation in pending:
            withdraw_invitation(invitation=invitation, withdrawn_by=request.user)
        self.message_user(request, f"Withdrew {len(pending)} invitation(s).")
