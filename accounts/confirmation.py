"""The confirmation page in front of every destructive portal action.

A destructive action (revoke a key, remove a member, withdraw an invitation, remove
the saved card) never happens on one click: its URL answers GET with a page that says
what will happen and holds the one POST form that does it, with a way back. No
script is involved, so it works as the rest of the portal does (docs/decisions.md, "Confirm before
destroying").
"""

from django.shortcuts import render


def confirmation_page(request, *, title: str, consequence: str, action_label: str,
                      cancel_url: str):
    """The GET half of a destructive view; its POST half does the action."""
    return render(request, "portal/confirm.html", {
        "title": title, "consequence": consequence, "action_label": action_label,
        "action_url": request.path, "cancel_url": cancel_url,
    })
