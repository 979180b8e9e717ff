"""manage.py create_organization."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, Organization, Plan, Role, User
from billing.models import CreditAccount
from tests.accounts.row_counts import row_counts

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def run(**options) -> str:
    out = StringIO()
    call_command("create_organization", stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_creates_the_org_and_its_credit_account():
    out = run(slug="initech", name="  Initech  ", plan="enterprise")
    org = Organization.objects.get(slug="initech")
    assert (org.name, org.plan) == ("Initech", Plan.ENTERPRISE)
    assert CreditAccount.objects.filter(organization=org).exists()
    assert not Membership.objects.exists()
    assert out == "Created organisation initech (Initech, enterprise)\n"


def test_with_an_admin_who_sets_a_password_by_reset():
    out = run(slug="initech", name="Initech", plan="free", admin_email="Bill@Initech.test")
    membership = Membership.objects.get()
    assert membership.organization.slug == "initech" and membership.role == Role.ADMIN
    assert membership.user.email == "bill@initech.test"
    assert not membership.user.has_usable_password()
    assert "Forgot your password?" in out


def test_an_existing_user_keeps_their_password(member_user):
    run(slug="initech", name="Initech", plan="free", admin_email="member@acme.test")
    member_user.refresh_from_db()
    assert member_user.check_password("pw-123456")
    assert member_user.memberships.count() == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"slug": "Not A Slug"}, "Enter a valid “slug”"),
        ({"slug": "acme/corp"}, "Enter a valid “slug”"),
        ({"slug": ""}, "Enter a valid “slug”"),
        ({"slug": "x" * 61}, "slug must be at most 60 characters"),
        ({"slug": "acme"}, "an organisation with slug 'acme' already exists"),
        ({"plan": "gold"}, "plan must be one of free, professional, enterprise, not 'gold'"),
        ({"plan": "Professional"}, "plan must be one of"),
        ({"admin_email": "not-an-email"}, "Enter a valid email address."),
        ({"admin_email": "a@b"}, "Enter a valid email address."),
        ({"admin_email": "a" * 250 + "@example.test"}, "email must be at most 254 characters"),
        ({"name": ""}, "name must not be empty"),
        ({"name": "   "}, "name must not be empty"),
        ({"name": "x" * 201}, "name must be at most 200 characters"),
    ],
)
def test_bad_arguments_write_nothing(org, options, message):
    before = row_counts()
    arguments = {"slug": "initech", "name": "Initech", "plan": "professional",
                 "admin_email": "bill@initech.test", **options}
    with pytest.raises(CommandError) as error:
        run(**arguments)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert row_counts() == before


def test_missing_argument_is_refused(db):
    with pytest.raises(CommandError, match="--plan"):
        call_command("create_organization", "--slug", "x", "--name", "X")
    assert not Organization.objects.exists() and not User.objects.exists()


@pytest.mark.system
def test_exit_status_and_one_line_error_from_the_shell(tmp_path):
    """The real process: exit 1 and one line on stderr (refused before touching the database)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DEBUG": "True",
        "PAYMENTS_PROVIDER": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-created.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "create_organization", "--slug", "initech",
         "--name", "Initech", "--plan", "gold"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "CommandError: plan must be one of free, professional, enterprise, not 'gold'"
    ]
    assert result.stdout == ""
    assert not (tmp_path / "never-created.sqlite3").exists()
