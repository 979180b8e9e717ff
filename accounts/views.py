"""Portal pages for organisations, members, API keys and the settings history."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import invitations, selectors, services
from accounts.confirmation import confirmation_page
from accounts.forms import ApiKeyForm, InviteForm, PasswordResetForm, RoleForm
from accounts.invitations import invitation_token
from accounts.portal import org_view
from accounts.throttling import password_reset_wait


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@login_required
def home(request):
    membership = selectors.landing_membership(request.user)
    if membership is None:
        invitations = [
            {"invitation": i, "url": reverse("invitation", args=[invitation_token(i)])}
            for i in selectors.open_invitations_for(request.user)
        ]
        return render(request, "accounts/no_org.html", {"invitations": invitations})
    return redirect("dashboard", slug=membership.organization.slug)


@login_required
@require_GET
def switch_org(request):
    slug = request.GET.get("org", "")
    membership = selectors.membership_for(user=request.user, slug=slug)
    return redirect("dashboard", slug=membership.organization.slug)


@org_view()
def members(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.invite_member(
                organization=request.org,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except ValidationError as error:
            form.add_error("email", _error_text(error))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("members", slug=request.org.slug)
    return render(
        request,
        "accounts/members.html",
        {
            "members": selectors.members_of(request.org),
            "invitations": selectors.open_invitations_of(request.org),
            "form": form,
            "roles": RoleForm(),
        },
    )


def _members_url(request) -> str:
    return reverse("members", args=[request.org.slug])


@require_http_methods(["GET", "POST"])
@org_view(admin_only_methods=("GET", "POST"))
def withdraw_invitation(request, invitation_id):
    invitation = get_object_or_404(selectors.open_invitations_of(request.org), pk=invitation_id)
    if request.method == "GET":
        return confirmation_page(
            request, title=f"Withdraw the invitation of {invitation.email}?",
            consequence="Its link stops working; you can invite the address again later.",
            action_label="Withdraw the invitation", cancel_url=_members_url(request))
    invitations.withdraw_invitation(invitation=invitation, withdrawn_by=request.user)
    messages.success(request, f"Withdrew the invitation of {invitation.email}.")
    return redirect("members", slug=request.org.slug)


@require_POST
@org_view()
def change_role(request, membership_id):
    membership = get_object_or_404(selectors.members_of(request.org), pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
    else:
        try:
            services.change_role(
                membership=membership, role=form.cleaned_data["role"], changed_by=request.user
            )
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            role = form.cleaned_data["role"]
            messages.success(request, f"{membership.user.email} is now {role}.")
    return redirect("members", slug=request.org.slug)


@require_http_methods(["GET", "POST"])
@org_view(admin_only_methods=("GET", "POST"))
def remove_member(request, membership_id):
    membership = get_object_or_404(selectors.members_of(request.org), pk=membership_id)
    if request.method == "GET":
        who = "yourself" if membership.user_id == request.user.id else membership.user.email
        return confirmation_page(
            request, title=f"Remove {who} from {request.org.name}?",
            consequence=(f"{membership.user.email} loses access to this organisation's pages "
                         "at once; an admin can invite them again."),
            action_label="Remove", cancel_url=_members_url(request))
    try:
        services.remove_member(membership=membership, removed_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"Removed {membership.user.email}.")
        if membership.user_id == request.user.id:
            return redirect("home")
    return redirect("members", slug=request.org.slug)


@never_cache  # the response may hold a raw key: keep it out of every cache
@org_view()
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            new_key = services.create_api_key(
                organization=request.org, name=form.cleaned_data["name"], created_by=request.user
            )
        except ValidationError as error:
            form.add_error("name", _error_text(error))
        else:
            # Rendered, not redirected: the raw key exists only in this response.
            form = ApiKeyForm()
    return render(
        request,
        "accounts/api_keys.html",
        {"keys": selectors.api_keys_of(request.org), "form": form, "new_key": new_key},
    )


@require_http_methods(["GET", "POST"])
@org_view(admin_only_methods=("GET", "POST"))
def revoke_api_key(request, key_id):
    api_key = get_object_or_404(selectors.api_keys_of(request.org), pk=key_id)
    if request.method == "GET" and api_key.revoked_at is not None:
        return redirect("api_keys", slug=request.org.slug)
    if request.method == "GET":
        return confirmation_page(
            request, title=f"Revoke the key {api_key.name}?",
            consequence=(f"Requests with the key {api_key.prefix}… are refused from now on; "
                         "a revoked key cannot be turned back on."),
            action_label="Revoke", cancel_url=reverse("api_keys", args=[request.org.slug]))
    services.revoke_api_key(api_key=api_key, revoked_by=request.user)
    messages.success(request, f"Revoked {api_key.name}.")
    return redirect("api_keys", slug=request.org.slug)


@require_GET
@org_view()
def settings_history(request):
    return render(
        request,
        "accounts/settings_history.html",
        {"changes": selectors.settings_history(request.org)[:500]},
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with a limit per address and per client (docs/operate.md, "Rate limits"),
    so nobody can flood an inbox; past it a 429 page says how long to wait."""

    form_class = PasswordResetForm
    email_template_name = "emails/password_reset.txt"
    html_email_template_name = "emails/password_reset.html"
    subject_template_name = "emails/password_reset_subject.txt"

    def form_valid(self, form):
        wait = password_reset_wait(self.request, form.cleaned_data["email"])
        if wait is not None:
            minutes = max(1, -(-wait // 60))
            return render(self.request, "registration/password_reset_throttled.html",
                          {"minutes": minutes}, status=429)
        return super().form_valid(form)
