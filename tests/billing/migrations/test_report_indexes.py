"""billing 0012_report_indexes: its index builds run free of the app's statement timeout,
and the connection gets its configured timeout back afterwards, also after a failure."""

import importlib

import pytest
from django.db import connection

migration = importlib.import_module("billing.migrations.0012_report_indexes")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_the_build_runs_without_a_statement_timeout_and_restores_it():
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '25s'")

    with migration._no_statement_timeout(connection):
        assert _statement_timeout() == "0"

    assert _statement_timeout() == "25s"


def test_the_timeout_comes_back_when_the_build_fails():
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '25s'")

    with pytest.raises(RuntimeError), migration._no_statement_timeout(connection):
        raise RuntimeError("the index build failed")

    assert _statement_timeout() == "25s"
