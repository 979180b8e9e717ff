"""The admin's read-only rule, written once: rows shown, never added, changed or deleted.

Ledger rows, usage events, the usage rollup and the settings history are
evidence or derived data: they change only through their services, never by
hand in the admin. Both apps' admins build on these classes.
"""

from django.contrib import admin


class ReadOnlyPermissions:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    def get_actions(self, request):
        return {}  # no bulk delete, and no action may sneak a change in


class ReadOnlyInline(ReadOnlyPermissions, admin.TabularInline):
    extra = 0
    can_delete = False
