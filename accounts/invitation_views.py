"""The invitee's page: see an invitation, then accept or decline it (POST only)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from accounts import invitations
from accounts.models import InvitationStatus

ANSWERS = {"accept": invitations.accept_invitation, "decline": invitations.decline_invitation}


def _problem(invitation, user) -> str | None:
    if invitation is None:
        return "This invitation link is not valid or has expired."
    if invitation.email.lower() != user.email.lower():
        return "This invitation was sent to another email address. Log in with that address."
    return None


CLOSED = "This invitation is no longer open. Ask an administrator to invite you again."


@never_cache
@login_required
def invitation(request, token):
    found = invitations.invitation_from_token(token)
    problem = _problem(found, request.user)
    if problem is None and request.method != "POST" and not found.is_open():
        problem = CLOSED
    if problem is None and request.method == "POST":
        answer = ANSWERS.get(request.POST.get("answer", ""))
        if answer is None:
            problem = "Choose accept or decline."
        else:
            try:
                found = answer(invitation=found, user=request.user)
            except ValidationError as error:
                problem = " ".join(error.messages)
            else:
                return _answered(request, found)
    status = 200 if problem is None else 400 if request.method == "POST" else 404
    return render(
        request,
        "accounts/invitation.html",
        {"invitation": found, "problem": problem},
        status=status,
    )


def _answered(request, found):
    name = found.organization.name
    if found.status == InvitationStatus.ACCEPTED:
        messages.success(request, f"You joined {name}.")
        return redirect("dashboard", slug=found.organization.slug)
    messages.info(request, f"You declined the invitation to {name}.")
    return redirect("home")
