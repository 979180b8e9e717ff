from django.core.management.base import BaseCommand

from accounts.management.counts import plural_count
from billing.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create or update the task schedules declared in billing/schedules.py."

    def handle(self, *args, **options):
        names = sync_schedules()
        listed = ", ".join(names) or "none"
        self.stdout.write(f"{plural_count(len(names), 'schedule')} in sync: {listed}")
