from django.core.management.base import BaseCommand

from accounts.management.text import counted
from billing.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create or update the task schedules declared in billing/schedules.py."

    def handle(self, *args, **options):
        names = sync_schedules()
        listed = ", ".join(names) or "none"
        self.stdout.write(f"{counted(len(names), 'schedule')} in sync: {listed}")
