"""manage.py simulate_usage --org SLUG --days N."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import CreditAccount, DailyUsage, UsageEvent
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import funded, seed_prices
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def simulate(*args):
    out = StringIO()
    call_command("simulate_usage", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_records_realistic_usage_reproducibly(org):
    seed_prices()
    funded(org, 100000)
    make_member(org, "ana@acme.test")
    out = simulate("--org", "acme", "--days", "5", "--per-day", "40", "--seed", "7")
    charged = UsageEvent.objects.count()
    assert charged > 50 and f"{charged} charged" in out
    assert set(UsageEvent.objects.values_list("type", flat=True)) == {"ai_tokens",
                                                                     "infrastructure"}
    assert UsageEvent.objects.filter(user_label="ana@acme.test").exists()
    assert DailyUsage.objects.order_by("day").values("day").distinct().count() >= 4
    balance = CreditAccount.objects.get().balance
    again = simulate("--org", "acme", "--days", "5", "--per-day", "40", "--seed", "7")
    assert "0 charged" in again and f"{charged} duplicate" in again
    assert CreditAccount.objects.get().balance == balance
    assert_ledger_ok(org)


def test_it_never_grants_credits(org):
    seed_prices()
    out = simulate("--org", "acme", "--days", "2", "--per-day", "10")
    assert "0 charged" in out and "rejected" in out
    assert CreditAccount.objects.get().balance == 0


@pytest.mark.parametrize("args, message", [
    (["--org", "nope", "--days", "3"], "no organisation"),
    (["--org", "acme", "--days", "0"], "--days"),
    (["--org", "acme", "--days", "40"], "--days"),
])
def test_bad_arguments(org, args, message):
    seed_prices()
    with pytest.raises(CommandError, match=message):
        simulate(*args)
    assert not UsageEvent.objects.exists()


def test_needs_prices(org):
    with pytest.raises(CommandError, match="sync_model_prices"):
        simulate("--org", "acme", "--days", "3")
