"""Staff money powers: each is its own Django permission, not `is_staff` alone.

The permissions are declared on the models (Meta.permissions) and checked
here by every admin view and action that moves money or asks Stripe to. A
staff member without one gets 403 and nothing is posted or sent.
"""

from django.core.exceptions import PermissionDenied

POST_ADJUSTMENT = "billing.post_adjustment"
REVERSE_ENTRY = "billing.reverse_entry"
REFUND_PURCHASE = "billing.refund_purchase"
RESOLVE_HELD_PURCHASE = "billing.resolve_held_purchase"


def require(request, permission: str) -> None:
    """403 unless the signed-in staff user holds `permission` (superusers hold all)."""
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm(permission)):
        raise PermissionDenied(f"you need the {permission!r} permission")
