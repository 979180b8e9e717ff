"""sync_schedules: the schedules declared in code, in django-q2, once each."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from billing.schedules import SCHEDULES

pytestmark = pytest.mark.django_db


def test_running_it_twice_leaves_one_schedule_of_each(capsys):
    call_command("sync_schedules")
    call_command("sync_schedules")

    names = sorted(Schedule.objects.values_list("name", flat=True))
    assert names == sorted(spec.name for spec in SCHEDULES)
    sweep = Schedule.objects.get(name="billing.auto_topup_sweep")
    assert (sweep.func, sweep.schedule_type, sweep.minutes, sweep.repeats) == (
        "billing.tasks.auto_topup_sweep_task", Schedule.MINUTES, 1, -1)
    assert Schedule.objects.get(name="billing.low_balance_alerts").minutes == 1
    assert "schedules in sync" in capsys.readouterr().out


def test_a_changed_schedule_is_updated_and_a_dropped_one_removed():
    call_command("sync_schedules")
    Schedule.objects.filter(name="billing.auto_topup_sweep").update(minutes=60)
    Schedule.objects.create(name="billing.retired", func="billing.tasks.gone",
                            schedule_type=Schedule.MINUTES, minutes=5)
    Schedule.objects.create(name="someone.else", func="x.y", schedule_type=Schedule.DAILY)

    call_command("sync_schedules")

    assert Schedule.objects.get(name="billing.auto_topup_sweep").minutes == 1
    assert not Schedule.objects.filter(name="billing.retired").exists()
    assert Schedule.objects.filter(name="someone.else").exists()  # not ours: left alone


def test_every_schedule_names_a_real_task_function():
    from importlib import import_module

    for spec in SCHEDULES:
        module, name = spec.func.rsplit(".", 1)
        assert callable(getattr(import_module(module), name)), spec.func
