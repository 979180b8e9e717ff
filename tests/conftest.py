import os

import pytest
from django.db import connection

from accounts.models import Membership, Organization, Plan, Role, User


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    # The longest tests (the system tests: processes, a browser; and those marked long)
    # are collected first: pytest-xdist, handing out one test at a time (--maxschedchunk=1
    # in pyproject), gives each worker the next as it frees up, so they start early and
    # spread over the workers instead of queueing on one or running at the tail.
    items.sort(key=lambda item: not ("system" in item.keywords or "long" in item.keywords))

    # The mutation run (tests/mutants.py) tests one money module against its own test
    # modules: a comma-separated list of node id prefixes; the rest is deselected.
    if only := os.environ.get("MUTANT_TESTS"):
        prefixes = tuple(p.strip() for p in only.split(",") if p.strip())
        deselected = [item for item in items if not item.nodeid.startswith(prefixes)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if item.nodeid.startswith(prefixes)]
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI always does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _seal_the_cutover():
    """The signed cut-over, as the migrations record it (a flush empties its table)."""
    from django.utils import timezone

    from billing.ledger import cutover
    from billing.models import LedgerCutover, LedgerEntry

    cutover.seal(LedgerCutover.objects, LedgerEntry.objects, now=timezone.now())


@pytest.fixture(scope="session", autouse=True)
def _test_flush_passes_the_truncate_guard():
    """Django's flush between transactional tests empties every table; the ledger tables
    refuse it (triggers that fire always, even in replica mode), so the flush turns those
    triggers off as the tables' owner, then back on to fire always, in its own transaction.
    On PostgreSQL it deletes the rows instead of truncating: TRUNCATE gives each of the 56
    tables and 220 indexes new files, about 1.5 s a test on this machine, where DELETE of a
    test's few rows takes about 0.1 s; every foreign key is DEFERRABLE INITIALLY DEFERRED,
    so the order of the deletes does not matter. On either database the flush then records
    the signed cut-over again, as the migrations did."""
    from django.db.backends.postgresql.operations import DatabaseOperations
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLite

    from billing.ledger.verify import GUARDED_TABLES

    original = DatabaseOperations.execute_sql_flush
    original_sql = DatabaseOperations.sql_flush
    SQLiteOperations = SQLite.ops_class  # noqa: N806 (a class)
    original_sqlite = SQLiteOperations.execute_sql_flush

    def set_guards(mode):
        return [f"ALTER TABLE {table} {mode} TRIGGER {table}_{guard}"
                for table in GUARDED_TABLES for guard in ("no_truncate", "append_only")]

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return original_sql(self, style, tables, reset_sequences=reset_sequences,
                                allow_cascade=allow_cascade)
        return [f"DELETE FROM {self.quote_name(table)}" for table in tables]

    def execute_sql_flush(self, sql_list):
        # The deferred foreign-key checks of the deletes run before the guards come back
        # (a table with pending trigger events cannot be altered).
        original(self, [*set_guards("DISABLE"), *sql_list, "SET CONSTRAINTS ALL IMMEDIATE",
                        *set_guards("ENABLE ALWAYS")])
        _seal_the_cutover()

    def execute_sql_flush_sqlite(self, sql_list):
        original_sqlite(self, sql_list)
        _seal_the_cutover()

    DatabaseOperations.sql_flush = sql_flush
    DatabaseOperations.execute_sql_flush = execute_sql_flush
    SQLiteOperations.execute_sql_flush = execute_sql_flush_sqlite
    yield
    DatabaseOperations.sql_flush = original_sql
    DatabaseOperations.execute_sql_flush = original
    SQLiteOperations.execute_sql_flush = original_sqlite


@pytest.fixture(scope="session")
def settings_import():
    """Imports config.settings under a given environment, in one child process for the
    session (tests/settings_imports.py): `settings_import(env, names)`."""
    from tests.settings_imports import SettingsImporter

    importer = SettingsImporter()
    yield importer
    importer.close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The rate limits count in the cache (accounts/rate_limits.py): each test starts at 0."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


def make_org(slug: str, *, plan: str = Plan.PROFESSIONAL) -> Organization:
    org = Organization.objects.create(name=slug.title(), slug=slug, plan=plan)
    return org


def make_member(org: Organization, email: str, role: str = Role.MEMBER) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email, "pw-123456")
    Membership.objects.create(user=user, organization=org, role=role)
    return user


@pytest.fixture
def org(db):
    return make_org("acme")


@pytest.fixture
def other_org(db):
    return make_org("globex")


@pytest.fixture
def admin_user(org):
    return make_member(org, "admin@acme.test", Role.ADMIN)


@pytest.fixture
def member_user(org):
    return make_member(org, "member@acme.test", Role.MEMBER)


@pytest.fixture
def other_admin(other_org):
    return make_member(other_org, "admin@globex.test", Role.ADMIN)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


@pytest.fixture
def db_proxy(transactional_db):
    """The default database reached through a TCP proxy that can drop it (tests/tcp_proxy.py)."""
    from tests.tcp_proxy import TcpProxy, database_through, upstream_of_default_database

    with TcpProxy(upstream_of_default_database()) as proxy, database_through(proxy):
        yield proxy


@pytest.fixture(autouse=bool(os.environ.get("MUTANT_TESTS")))
def _store_caches_cleared():
    """Under the mutation run only: the ledger store builds its SQL once per process and
    keeps it, so a mutant of the builders would meet the clean run's SQL and survive.
    Each test builds its own (prepared statements are named by their SQL's hash: a
    mutated statement is prepared afresh)."""
    from billing.ledger.store import copy_format, one_statement, postgres

    one_statement._STATEMENTS.clear()
    postgres._READS.clear()
    postgres._LOCK_STATEMENTS = None
    copy_format.copy_moment.cache_clear()
