"""Settings: strict booleans, refusals at import, and `check --deploy` with docs/deploy.md's env.

The imports (one child process for them all, the `settings_import` fixture) and the
`manage.py check` subprocesses get a controlled environment (never the test run's), and set
every variable they rely on explicitly, so a developer's .env file cannot change the outcome.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import strict_bool

ROOT = Path(__file__).resolve().parents[2]


def env_example_keys() -> list[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return [line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z_]+=", line)]


def deploy_check_env() -> dict[str, str]:
    """The KEY=value block under the check-deploy-env marker of docs/deploy.md."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"<!-- check-deploy-env[^>]*-->\s*```[a-z]*\n(.*?)```", text, re.S)
    assert match, "docs/deploy.md lost its check-deploy-env block"
    pairs = [line.split("=", 1) for line in match.group(1).splitlines() if line.strip()]
    return {key: value for key, value in pairs}


def run_python(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )


# A complete, valid environment; each test changes what it is about.
VALID = {
    "DEBUG": "False",
    "SECRET_KEY": "x" * 50,
    "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
    "PAYMENTS_PROVIDER": "test",
    "ALLOW_TEST_PAYMENTS": "True",
    "STRIPE_SECRET_KEY": "",
    "STRIPE_WEBHOOK_SECRET": "",
}


class TestStrictBool:
    @pytest.mark.parametrize(("raw", "expected"), [("True", True), ("False", False)])
    def test_accepts_exactly_true_and_false(self, monkeypatch, raw, expected):
        monkeypatch.setenv("SOME_FLAG", raw)
        assert strict_bool("SOME_FLAG", not expected) is expected

    @pytest.mark.parametrize("default", [True, False])
    def test_unset_or_empty_means_the_default(self, monkeypatch, default):
        monkeypatch.delenv("SOME_FLAG", raising=False)
        assert strict_bool("SOME_FLAG", default) is default
        monkeypatch.setenv("SOME_FLAG", "")
        assert strict_bool("SOME_FLAG", default) is default

    @pytest.mark.parametrize("raw", ["true", "false", "TRUE", "1", "0", "yes", "no", "on",
                                     " True", "True ", "t"])
    def test_anything_else_is_an_error(self, monkeypatch, raw):
        monkeypatch.setenv("SOME_FLAG", raw)
        with pytest.raises(ImproperlyConfigured, match=r"SOME_FLAG must be True or False"):
            strict_bool("SOME_FLAG", False)


def test_valid_environment_imports(settings_import):
    result = settings_import(VALID)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set when DEBUG is False"),
        ({"ALLOW_TEST_PAYMENTS": ""}, "ALLOW_TEST_PAYMENTS=True"),
        ({"ALLOW_TEST_PAYMENTS": "False"}, "ALLOW_TEST_PAYMENTS=True"),
        ({"ALLOW_TEST_PAYMENTS": "true"}, "ALLOW_TEST_PAYMENTS must be True or False"),
        ({"DEBUG": "true"}, "DEBUG must be True or False, not 'true'"),
        ({"DEBUG": "0"}, "DEBUG must be True or False, not '0'"),
        ({"PAYMENTS_PROVIDER": "paypal"}, "PAYMENTS_PROVIDER must be 'stripe' or 'test'"),
        ({"PAYMENTS_PROVIDER": "stripe"}, "needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"),
        ({"PAYMENTS_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_live_x"},
         "needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"),
    ],
)
def test_refuses_to_import(settings_import, changes, message):
    """With one line, not a traceback (issue 26)."""
    result = settings_import({**VALID, **changes})
    assert result.returncode == 1
    assert result.stderr.startswith("Configuration error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_manage_py_without_secret_key_says_so_in_one_line():
    result = run_python(["manage.py", "check"], **{**VALID, "SECRET_KEY": ""})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Configuration error: SECRET_KEY must be set when DEBUG is False"
    )


def test_debug_needs_neither_secret_key_nor_permission_for_test_payments(settings_import):
    result = settings_import({**VALID, "DEBUG": "True", "SECRET_KEY": "",
                              "ALLOW_TEST_PAYMENTS": ""})
    assert result.returncode == 0, result.stderr


def test_deploy_doc_lists_every_variable_of_env_example():
    documented = (ROOT / "docs" / "deploy.md").read_text()
    keys = env_example_keys()
    assert len(keys) > 20
    assert sorted(deploy_check_env()) == sorted(keys)
    for key in keys:
        assert f"| `{key}` |" in documented, f"{key} is missing from the table in docs/deploy.md"


@pytest.mark.system
def test_check_deploy_passes_with_the_documented_environment():
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                        **deploy_check_env())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


@pytest.mark.system
def test_without_hsts_preload_only_w021_remains():
    """What docs/deploy.md says about SECURE_HSTS_PRELOAD=False."""
    env = {**deploy_check_env(), "SECURE_HSTS_PRELOAD": "False"}
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert re.findall(r"\((\w+\.\w+)\)", result.stderr) == ["security.W021"]


@pytest.mark.parametrize(
    ("changes", "check_id"),
    [
        ({"EMAIL_URL": "consolemail://"}, "accounts.E001"),
        ({"EMAIL_URL": "filemail:///tmp/mail"}, "accounts.E001"),
        ({"LEDGER_CHAIN_KEYS": "", "LEDGER_CHAIN_KEY_ID": ""}, "billing.E001"),
    ],
)
def test_check_deploy_refuses_what_fails_unsafely(changes, check_id):
    """Issue 26: mail that never leaves, and a ledger key derived from SECRET_KEY."""
    env = {**deploy_check_env(), **changes}
    result = run_python(["manage.py", "check", "--deploy"], **env)
    assert result.returncode == 1
    assert re.findall(r"\((\w+\.\w+)\)", result.stderr) == [check_id]


@pytest.mark.postgres
@pytest.mark.django_db
def test_check_deploy_with_the_database_refuses_a_superuser():
    from django.db import connection

    from accounts.checks import database_user_is_not_a_superuser

    [error] = database_user_is_not_a_superuser(databases=["default"])  # the tests' postgres
    assert error.id == "accounts.E002" and "superuser" in error.msg
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS credits_check_owner")
        cursor.execute("CREATE ROLE credits_check_owner NOSUPERUSER")
        try:
            cursor.execute("SET ROLE credits_check_owner")
            assert database_user_is_not_a_superuser(databases=["default"]) == []
        finally:
            cursor.execute("RESET ROLE")
            cursor.execute("DROP ROLE credits_check_owner")
    assert database_user_is_not_a_superuser(databases=[]) == []  # plain --deploy: no query


def env_example_values() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))


def test_env_example_filled_with_only_the_secrets_takes_real_payments(settings_import):
    """A production .env copied from .env.example, with only the secrets filled in,
    must not hand out free credits through the test provider."""
    env = {**env_example_values(), "SECRET_KEY": "s" * 50,
           "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    result = settings_import(env, ("PAYMENTS_PROVIDER", "ALLOW_TEST_PAYMENTS", "DEBUG"))
    assert result.returncode == 0, result.stderr
    assert result.settings == {"PAYMENTS_PROVIDER": "stripe", "ALLOW_TEST_PAYMENTS": False,
                               "DEBUG": False}
    # And without the Stripe keys it refuses to start rather than fall back to test payments.
    result = settings_import({**env, "STRIPE_SECRET_KEY": ""})
    assert "needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET" in result.stderr


# -- database connections: health-checked, and bounded waits on PostgreSQL ------------------------

@pytest.fixture
def database_settings(settings_import):
    def imported(**env: str) -> dict:
        result = settings_import({**VALID, **env}, ("DATABASES",))
        assert result.returncode == 0, result.stderr
        return result.settings["DATABASES"]["default"]

    return imported


def test_kept_connections_are_health_checked(database_settings):
    assert database_settings()["CONN_HEALTH_CHECKS"] is True
    assert database_settings(DATABASE_URL="postgres://u@db:5432/c")["CONN_HEALTH_CHECKS"] is True


def test_postgresql_connections_get_the_statement_and_lock_timeouts_from_the_environment(
    database_settings,
):
    url = "postgres://u@db:5432/c"
    assert database_settings(DATABASE_URL=url)["OPTIONS"]["options"] == (
        "-c statement_timeout=30000 -c lock_timeout=5000")
    custom = database_settings(DATABASE_URL=url, DATABASE_STATEMENT_TIMEOUT_MS="0",
                               DATABASE_LOCK_TIMEOUT_MS="1500")
    assert custom["OPTIONS"]["options"] == "-c statement_timeout=0 -c lock_timeout=1500"
    assert "options" not in database_settings().get("OPTIONS", {})  # SQLite has no such thing


@pytest.mark.parametrize("value", ["-1", "5s", "1.5"])
def test_a_timeout_that_is_not_a_whole_number_of_ms_is_refused(settings_import, value):
    result = settings_import({**VALID, "DATABASE_LOCK_TIMEOUT_MS": value})
    assert result.returncode != 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_timeouts_are_in_force_on_the_connection():
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), "
                       "current_setting('lock_timeout')")
        statement, lock = cursor.fetchone()
    assert statement == f"{settings.DATABASE_STATEMENT_TIMEOUT_MS // 1000}s"
    assert lock == f"{settings.DATABASE_LOCK_TIMEOUT_MS // 1000}s"
