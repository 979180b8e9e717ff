"""django-q2 task entry points: thin wrappers around idempotent services.

Each has a management command that runs the same service by hand.
"""

from accounts.models import Organization
from billing.alerts import services as alerts
from billing.alerts.notify import send_notification
from billing.ledger.expiry import expire_credits
from billing.pricing.price_report import report_price_differences
from billing.topups import runner


def expire_credits_task() -> int:
    return expire_credits()


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
