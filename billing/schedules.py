"""Recurring work, declared in code and synced into django-q2 by sync_schedules."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


SCHEDULES: list[ScheduleSpec] = [
    ScheduleSpec("billing.expire_credits", "billing.tasks.expire_credits_task", minutes=15),
    # The backstop of the on-commit trigger: due retries, dead workers' tries, lost triggers.
    ScheduleSpec("billing.auto_topup_sweep", "billing.tasks.auto_topup_sweep_task", minutes=1),
    # The backstop of the asynchronous queue's wake-ups (docs/operate.md).
    ScheduleSpec("billing.charge_stale_usage", "billing.tasks.charge_stale_usage_task",
                 minutes=1),
    ScheduleSpec("billing.low_balance_alerts", "billing.tasks.low_balance_alerts_task",
                 minutes=1),
    # Weekly: genai-prices against the prices in force, mailed to staff (writes no price).
    ScheduleSpec("billing.price_report", "billing.tasks.report_price_differences_task",
                 minutes=7 * 24 * 60),
    # The daily digest of chain heads (docs/ledger.md, "Tamper evidence"); idempotent per day.
    ScheduleSpec("billing.record_ledger_digest", "billing.tasks.record_ledger_digest_task",
                 minutes=24 * 60),
]


def sync_schedules() -> list[str]:
    """Create or update each declared schedule by name; remove ours that are no longer declared."""
    from django_q.models import Schedule

    names = []
    for spec in SCHEDULES:
        Schedule.objects.update_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": spec.minutes,
                "repeats": -1,
            },
        )
        names.append(spec.name)
    Schedule.objects.filter(name__startswith="billing.").exclude(name__in=names).delete()
    return names
