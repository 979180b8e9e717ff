"""manage.py create_api_key."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Plan, SettingsChange
from accounts.services import authenticate_api_key
from tests.accounts.key_storage import assert_stored_nowhere
from tests.accounts.row_counts import row_counts
from tests.conftest import make_org

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_the_key_alone_on_the_last_line_and_it_authenticates(org):
    out, err = run("--org", "acme", "--name", "inference gateway")
    raw = out.splitlines()[-1]
    assert raw == raw.strip() and " " not in raw
    assert out == raw + "\n"  # a script can read it with `tail -n 1`
    assert "Store it now" in err and raw not in err
    assert "Warning" not in err

    key = authenticate_api_key(raw)
    assert key is not None and key.organization == org and key.name == "inference gateway"
    assert key.created_by is None
    assert_stored_nowhere(raw, key.prefix)
    change = SettingsChange.objects.get()
    assert (change.actor, change.actor_label, change.action) == (None, "system", "created")


def test_each_run_makes_a_new_key(org):
    first = run("--org", "acme", "--name", "ci")[0].strip()
    second = run("--org", "acme", "--name", "ci")[0].strip()
    assert first != second and ApiKey.objects.count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope", "--name", "ci"], "no organisation with slug 'nope'"),
        (["--org", "", "--name", "ci"], "no organisation with slug ''"),
        (["--org", "acme", "--name", ""], "name must not be empty"),
        (["--org", "acme", "--name", "   "], "name must not be empty"),
        (["--org", "acme", "--name", "x" * 101], "name must be at most 100 characters"),
    ],
)
def test_bad_arguments_write_nothing(org, args, message):
    before = row_counts()
    with pytest.raises(CommandError) as error:
        run(*args)
    assert str(error.value) == message
    assert row_counts() == before


@pytest.mark.parametrize("args", [["--org", "acme"], ["--name", "ci"]])
def test_missing_argument_is_refused(org, args):
    with pytest.raises(CommandError, match="required"):
        run(*args)
    assert not ApiKey.objects.exists()


def test_a_free_plan_org_gets_the_key_and_a_warning_that_it_cannot_bill(db):
    make_org("freebie", plan=Plan.FREE)
    out, err = run("--org", "freebie", "--name", "ci")
    assert "Warning: freebie is on the Free plan" in err
    assert "403 plan_not_eligible" in err
    assert ApiKey.objects.get().organization.slug == "freebie"
    assert out.count("\n") == 1  # stdout is still the key alone
