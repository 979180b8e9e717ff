"""Per-organisation rows the billing module needs from day one."""

from billing.models import CreditAccount


def setup_organization(*, organization) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(organization=organization)
    return account
