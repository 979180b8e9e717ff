"""The weekly price report mails staff the differences and writes nothing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.models import User
from billing.models import AIModel, ModelPrice
from billing.pricing.sync.price_report import report_price_differences
from billing.pricing.sync.prices import sync_prices
from billing.schedules import SCHEDULES, sync_schedules
from billing.tasks import report_price_differences_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    User.objects.create_user("member@example.com", "pw-123456")  # not staff: not mailed
    User.objects.create_user("gone@example.com", "pw-123456", is_staff=True, is_active=False)
    return User.objects.create_user("staff@example.com", "pw-123456", is_staff=True)


def drift_gpt_4o():
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    ModelPrice.objects.filter(model=gpt, bucket="output", service_tier="").update(
        price_per_million_usd=Decimal("11"))


def test_differences_are_mailed_to_active_staff_and_nothing_is_written(staff):
    sync_prices(providers=["openai"])
    drift_gpt_4o()
    before = list(ModelPrice.objects.order_by("pk").values_list("pk", "price_per_million_usd",
                                                                "ends_at"))
    sent = report_price_differences()
    # Only openai was synced: every other provider's models are "not synced".
    assert sent.differences == 1 and sent.models_not_synced > 1000 and sent.mailed_to == 1
    [message] = mail.outbox
    assert message.to == ["staff@example.com"]
    assert "1 price difference" in message.subject
    assert "openai/gpt-4o output at" in message.body
    assert "$11.0000000000/M (genai-prices), genai-prices $10/M" in message.body
    assert "sync_model_prices --apply" in message.body
    assert "/admin/billing/modelprice/" in message.body
    assert "openai/gpt-4o output" in message.alternatives[0][0]
    assert list(ModelPrice.objects.order_by("pk").values_list(
        "pk", "price_per_million_usd", "ends_at")) == before


def test_no_difference_no_mail(staff):
    sync_prices()
    assert report_price_differences().differences == 0
    assert mail.outbox == []


def test_the_weekly_schedule_runs_the_task_and_the_command_runs_it_by_hand(staff):
    from django_q.models import Schedule

    [spec] = [s for s in SCHEDULES if s.name == "billing.price_report"]
    assert spec.minutes == 7 * 24 * 60
    sync_schedules()
    schedule = Schedule.objects.get(name="billing.price_report")
    assert (schedule.func, schedule.minutes) == ("billing.tasks.report_price_differences_task",
                                                 7 * 24 * 60)
    sync_prices(providers=["openai"])
    drift_gpt_4o()
    assert report_price_differences_task() == 1
    out = StringIO()
    call_command("sync_model_prices", "--report-to-staff", stdout=out)
    assert "Differences: 1" in out.getvalue() and "mailed to 1 staff" in out.getvalue()
    assert len(mail.outbox) == 2
