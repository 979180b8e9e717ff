"""The low-balance and auto-topup-off banners under every portal page's header.

A context processor of its own (listed in TEMPLATES after billing's header), rendered
by templates/portal/_account_banners.html; pages without an org get nothing.
"""

from billing import money
from billing.alerts import selectors as alert_selectors
from billing.ledger.selectors import account_of
from billing.topups import selectors as topup_selectors


def account_banners(request) -> dict:
    org = getattr(request, "org", None)
    if org is None:
        return {}
    membership = getattr(request, "membership", None)
    is_admin = bool(membership and membership.is_admin)
    return {"account_banners": banners_for(org, is_admin=is_admin)}


def banners_for(organization, *, is_admin: bool = False) -> list[dict]:
    banners = []
    balance = account_of(organization).balance
    low = alert_selectors.is_low(alert_selectors.levels_of(organization), balance)
    if low:
        banners.append({"level": low, "kind": f"low-balance-{low}",
                        "text": f"Low balance: {money.display_rounded(balance)} credits, below "
                                f"the {low} level. "
                                + alert_selectors.low_balance_advice(organization,
                                                                     is_admin=is_admin)})
    reason = topup_selectors.turned_off_by_failures(organization)
    if reason:
        banners.append({"level": "danger", "kind": "auto-topup-off",
                        "text": f"Auto-topup is off: {reason}. An admin can turn it on again "
                                "on the Auto-topup page."})
    return banners
