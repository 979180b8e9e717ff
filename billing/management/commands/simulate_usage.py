from django.core.management.base import BaseCommand, CommandError

from accounts.management.counts import plural_count
from accounts.management.lookup import organization_or_error
from billing import money
from billing.demo.simulation import MAX_DAYS, catalogue_for, generate
from billing.ledger.actor import Actor
from billing.usage.events import chunks
from billing.usage.ingestion.record import (
    CHARGED,
    DUPLICATE,
    REJECTED,
    PlanNotEligible,
    record_usage,
)


class Command(BaseCommand):
    help = (
        "Record realistic AI and infrastructure usage for the last N days through the real "
        "ingestion service (for demos). It never grants credits: what cannot be paid is rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--days", type=int, required=True, help=f"1 to {MAX_DAYS}")
        parser.add_argument("--seed", type=int, default=1,
                            help="same seed, same events (a re-run records only duplicates)")
        parser.add_argument("--per-day", type=int, default=200, help="events on a weekday")

    def handle(self, *args, org, days, seed, per_day, **options):
        organization = organization_or_error(org)
        if not organization.billing_enabled:
            raise CommandError(f"{org}: {PlanNotEligible.code}: the plan has no credits billing")
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS} (events older than "
                               "35 days are refused)")
        if not 1 <= per_day <= 100_000:
            raise CommandError("--per-day must be between 1 and 100000")
        catalogue = catalogue_for(organization)
        if not catalogue.models and not catalogue.meters:
            raise CommandError("no priced models or meters: run sync_model_prices first")
        counts = {CHARGED: 0, DUPLICATE: 0, REJECTED: 0}
        spent = money.ZERO
        balance = None
        events = generate(organization, days=days, seed=seed, per_day=per_day,
                          catalogue=catalogue)
        for batch in chunks(events):
            result = record_usage(organization=organization, events=batch,
                                  actor=Actor.system("simulate_usage"))
            for outcome in result.results:
                counts[outcome.status] += 1
            spent += result.charged_credits
            balance = result.balance
        self.stdout.write(
            f"{plural_count(sum(counts.values()), 'event')} over {plural_count(days, 'day')}: "
            f"{counts[CHARGED]:,} charged "
            f"({money.display(spent)} credits), {counts[DUPLICATE]} duplicate, "
            f"{counts[REJECTED]} rejected. Balance "
            f"{money.display(balance) if balance is not None else 'unchanged'}."
        )
        if counts[REJECTED]:
            self.stderr.write("Some events were rejected (insufficient credits): grant credits "
                              "with adjust_credits and run again with the same seed.")
