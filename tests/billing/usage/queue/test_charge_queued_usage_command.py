"""manage.py charge_queued_usage [--org SLUG] [--dry-run]."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import QueuedUsageEvent
from billing.usage.queue.intake import accept_usage
from tests.billing.usage_fixtures import ai_event, funded, gpu_event, seed_prices

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(org, other_org):
    seed_prices()
    funded(org, 8)
    funded(other_org)
    then = timezone.now() - timedelta(seconds=90)
    accept_usage(organization=org, events=[gpu_event("a"), gpu_event("b"), ai_event("c")],
                 now=then)
    accept_usage(organization=other_org, events=[gpu_event("x")])


def run(*args):
    out = StringIO()
    call_command("charge_queued_usage", *args, stdout=out)
    return out.getvalue()


def statuses():
    return dict(QueuedUsageEvent.objects.values_list("idempotency_key", "status"))


def test_dry_run_shows_the_depth_per_org_and_charges_nothing():
    lines = run("--dry-run").splitlines()
    assert lines[0] == "org | queued | oldest waiting"
    assert lines[1].startswith("acme | 3 | 9") and lines[2].startswith("globex | 1 | ")
    assert len(lines) == 3 and set(statuses().values()) == {"queued"}


def test_charges_every_org_and_says_what_became_of_the_events():
    out = run()
    assert "acme: 3 events decided (2 charged, 1 rejected)" in out
    assert "globex: 1 event decided (1 charged)" in out
    assert statuses() == {"a": "charged", "b": "rejected", "c": "charged", "x": "charged"}
    assert run() == "No queued usage events\n"


def test_one_org_only():
    assert "globex: 1 event decided" in run("--org", "globex")
    assert statuses()["x"] == "charged" and statuses()["a"] == "queued"


def test_an_unknown_org_is_a_one_line_error_and_charges_nothing():
    with pytest.raises(CommandError, match="no organisation with slug 'nope'"):
        run("--org", "nope")
    assert set(statuses().values()) == {"queued"}
