from django.core.management.base import BaseCommand

from billing.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create or update the task schedules declared in billing/schedules.py."

    def handle(self, *args, **options):
        names = sync_schedules()
        self.stdout.write(f"{len(names)} schedules in sync: {', '.join(names) or 'none'}")
