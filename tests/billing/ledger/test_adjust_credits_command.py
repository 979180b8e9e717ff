import pytest
from django.core.management import CommandError, call_command

from billing.models import CreditAccount, LedgerEntry
from tests.billing.postings import D, assert_ledger_ok

pytestmark = pytest.mark.django_db


def test_adds_and_removes_credits_attributed_to_the_actor(org, admin_user, capsys):
    call_command("adjust_credits", "--org", org.slug, "--credits", "120.5", "--reason",
                 "pilot credit", "--actor", admin_user.email)
    call_command("adjust_credits", "--org", org.slug, "--credits", "-200", "--reason",
                 "chargeback")
    assert CreditAccount.objects.get(organization=org).balance == D("-79.5")
    first, second = LedgerEntry.objects.order_by("seq")
    assert first.actor_user == admin_user and first.reason == "pilot credit"
    assert second.actor_label == "system:adjust_credits"
    out = capsys.readouterr().out
    # The ledger's own figures: six places, grouped (was "-79.5", trailing zeros trimmed).
    assert "120.500000 credits" in out and "balance now -79.500000" in out
    assert_ledger_ok(org)


def test_request_id_makes_a_rerun_post_once(org):
    for _ in range(2):
        call_command("adjust_credits", "--org", org.slug, "--credits", "5", "--reason", "x",
                     "--request-id", "ticket-42")
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize("args, message", [
    (["--org", "nope", "--credits", "5", "--reason", "x"], "no organisation"),
    (["--org", "acme", "--credits", "abc", "--reason", "x"], "--credits"),
    (["--org", "acme", "--credits", "0", "--reason", "x"], "--credits"),
    (["--org", "acme", "--credits", "NaN", "--reason", "x"], "--credits"),
    (["--org", "acme", "--credits", "1.0000001", "--reason", "x"], "--credits"),
    (["--org", "acme", "--credits", "5", "--reason", "  "], "reason"),
    (["--org", "acme", "--credits", "5", "--reason", "x", "--actor", "ghost@x.test"], "no user"),
])
def test_bad_arguments_change_nothing(org, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("adjust_credits", *args)
    assert LedgerEntry.objects.count() == 0
    assert CreditAccount.objects.get(organization=org).balance == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--credits", "1e999999999999999999"], "--credits"),
    (["--credits", "-1e-999999999999999999999999999"], "--credits"),
    (["--credits", "12\x00"], "--credits"),
    (["--credits", "99999999999999"], "more than the ledger holds"),  # twice: past the column
    (["--reason", "chargeback\x00"], "NUL"),
    (["--reason", "\udcff"], "surrogate"),
    (["--actor", "ana\x00@acme.test"], "no user"),
    (["--org", "acme\x00"], "no organisation"),
])
def test_input_no_column_can_hold_is_a_one_line_error(org, args, message):
    base = {"--org": org.slug, "--credits": "99999999999999", "--reason": "x"}
    call_command("adjust_credits", *[part for pair in base.items() for part in pair])
    before = LedgerEntry.objects.count()
    given = dict(zip(args[::2], args[1::2], strict=True))
    with pytest.raises(CommandError, match=message):
        call_command("adjust_credits", *[p for pair in {**base, **given}.items() for p in pair])
    assert LedgerEntry.objects.count() == before
    assert CreditAccount.objects.get(organization=org).balance == D("99999999999999")
