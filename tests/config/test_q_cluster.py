"""Q_CLUSTER as config/settings.py builds it from the environment (django-q2)."""

import json

import pytest

from tests.accounts.test_settings import VALID, run_python

PRINT_Q = ("import json, config.settings as s; "
           "print(json.dumps(s.Q_CLUSTER, sort_keys=True))")


def q_cluster(**env) -> dict:
    result = run_python(["-c", PRINT_Q], **{**VALID, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("database", ["sqlite:////tmp/unused.sqlite3",
                                      "postgres://u@127.0.0.1:5432/credits"])
def test_orm_broker_on_the_default_database_without_redis(database):
    conf = q_cluster(DATABASE_URL=database)
    assert conf["orm"] == "default" and "redis" not in conf


def test_redis_broker_when_redis_url_is_set():
    conf = q_cluster(DATABASE_URL="postgres://u@127.0.0.1:5432/credits",
                     REDIS_URL="redis://127.0.0.1:6379/3")
    assert conf["redis"] == "redis://127.0.0.1:6379/3" and "orm" not in conf


def test_a_task_is_retried_only_after_its_timeout_and_missed_runs_are_not_caught_up():
    conf = q_cluster()
    assert conf["retry"] > conf["timeout"]  # else a slow task runs twice at once
    assert conf["catch_up"] is False
    assert "sync" not in conf


def test_sqlite_runs_one_worker_postgres_several():
    assert q_cluster()["workers"] == 1
    assert q_cluster(DATABASE_URL="postgres://u@127.0.0.1:5432/credits")["workers"] >= 2
