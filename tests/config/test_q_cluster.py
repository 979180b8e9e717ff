"""Q_CLUSTER as config/settings.py builds it from the environment (django-q2)."""

import pytest

from tests.accounts.test_settings import VALID


@pytest.fixture
def q_cluster(settings_import):
    def imported(**env) -> dict:
        result = settings_import({**VALID, **env}, ("Q_CLUSTER",))
        assert result.returncode == 0, result.stderr
        return result.settings["Q_CLUSTER"]

    return imported


@pytest.mark.parametrize("database", ["sqlite:////tmp/unused.sqlite3",
                                      "postgres://u@127.0.0.1:5432/credits"])
def test_orm_broker_on_the_default_database_without_redis(q_cluster, database):
    conf = q_cluster(DATABASE_URL=database)
    assert conf["orm"] == "default" and "redis" not in conf


def test_redis_broker_when_redis_url_is_set(q_cluster):
    conf = q_cluster(DATABASE_URL="postgres://u@127.0.0.1:5432/credits",
                     REDIS_URL="redis://127.0.0.1:6379/3")
    assert conf["redis"] == "redis://127.0.0.1:6379/3" and "orm" not in conf


def test_a_task_is_retried_only_after_its_timeout_and_missed_runs_are_not_caught_up(q_cluster):
    conf = q_cluster()
    assert conf["retry"] > conf["timeout"]  # else a slow task runs twice at once
    assert conf["catch_up"] is False
    assert "sync" not in conf


def test_sqlite_runs_one_worker_postgres_several(q_cluster):
    assert q_cluster()["workers"] == 1
    assert q_cluster(DATABASE_URL="postgres://u@127.0.0.1:5432/credits")["workers"] >= 2
