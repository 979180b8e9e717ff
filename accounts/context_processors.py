"""Header data for every portal page: the current org and the org switcher."""

from accounts.selectors import memberships_of


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"my_memberships": list(memberships_of(user))}
    org = getattr(request, "org", None)
    if org is not None:
        context["org"] = org
        context["membership"] = request.membership
        context["is_org_admin"] = request.membership.is_admin
    return context
