"""django-q2 task entry points: thin wrappers around idempotent services.

Each has a management command that runs the same service by hand.
"""

from accounts.models import Organization
from billing.alerts import services as alerts
from billing.alerts.notify import send_notification
from billing.ledger.digests import record_digest
from billing.ledger.expiry import expire_credits
from billing.pricing.sync.price_report import report_price_differences
from billing.topups import runner
from billing.usage.queue import charging as queue_charging
from billing.usage.queue import intake as queue


def expire_credits_task() -> int:
    return expire_credits()


def record_ledger_digest_task() -> int:
    """Once a day; a second run the same UTC day changes nothing."""
    digest, _created = record_digest()
    return digest.pk


def run_auto_topup_task(organization_id: int) -> str:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return "no such organisation"
    return runner.run_auto_topup(organization=organization).outcome


def auto_topup_sweep_task() -> int:
    return len([run for run in runner.sweep() if run.attempt_id is not None])


def low_balance_alerts_task() -> int:
    return alerts.check_all()


def send_notification_task(notification_id: int) -> None:
    send_notification(notification_id)


def report_price_differences_task() -> int:
    return report_price_differences().differences


def charge_queued_usage_task(organization_id: int) -> int:
    """Woken by an accepted asynchronous request: drain the org's queue, then any org
    whose events have waited too long (a killed worker's, a lost wake-up's)."""
    queue.pace(organization_id)
    queue.clear_wake_flag(organization_id)
    drained = queue_charging.drain(organization_id=organization_id, until_empty=False)
    if drained.out_of_time:
        queue.wake_worker(organization_id)
    return drained.events + queue_charging.charge_stale()


def charge_stale_usage_task() -> int:
    """Every minute: the backstop when no request arrives to wake a worker."""
    return queue_charging.charge_stale()
