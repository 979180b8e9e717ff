"""The decorator every org-scoped portal view uses."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from accounts.selectors import membership_for
from accounts.services import remember_organization


def org_view(*, admin_only_methods=("POST",)):
    """Resolves `slug` to the user's membership (404 otherwise) and sets
    request.org and request.membership. Writes are for admins only."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, slug, *args, **kwargs):
            membership = membership_for(user=request.user, slug=slug)
            if request.method in admin_only_methods and not membership.is_admin:
                raise PermissionDenied("Only admins of this organisation can do that.")
            request.membership = membership
            request.org = membership.organization
            if request.user.last_organization_id != membership.organization_id:
                remember_organization(user=request.user, organization=membership.organization)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
