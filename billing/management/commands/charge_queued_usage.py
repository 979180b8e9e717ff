from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.management.counts import plural_count
from accounts.management.lookup import optional_organization
from billing.usage.queue.charging import drain
from billing.usage.queue.selectors import queue_depth


class Command(BaseCommand):
    help = ("Show the asynchronous usage queue's depth per organisation and charge what is "
            "queued, as the workers do (an org a worker holds is waited for). Safe to run "
            "beside the workers.")

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")
        parser.add_argument("--dry-run", action="store_true",
                            help="only show the queue; charge nothing")

    def handle(self, *args, org, dry_run, **options):
        organization = optional_organization(org)
        depths = queue_depth(organization=organization)
        if not depths:
            self.stdout.write("No queued usage events")
            return
        now = timezone.now()
        self.stdout.write("org | queued | oldest waiting")
        for depth in depths:
            waited = (now - depth.oldest).total_seconds()
            self.stdout.write(f"{depth.slug} | {depth.queued:,} | {waited:,.1f} s")
        if dry_run:
            return
        for depth in depths:
            drained = drain(organization_id=depth.organization_id, seconds=None)
            outcomes = ", ".join(f"{n:,} {status}"
                                 for status, n in sorted(drained.statuses.items()))
            self.stdout.write(f"{depth.slug}: {plural_count(drained.events, 'event')} decided"
                              + (f" ({outcomes})" if outcomes else ""))
