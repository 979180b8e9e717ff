"""manage.py seed_demo: the demo organisation, then each of billing/demo/steps.py in order."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.demo import organization as demo
from billing.demo.steps import DEMO_STEPS


class Command(BaseCommand):
    help = (
        "Create the demo organisation Acme Robotics, with logins whose password is 'demo', its "
        "credits, purchase, card, prices and usage history; each part once: a re-run adds "
        "nothing and says so. Refused with DEBUG off unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true",
            help="Seed even with DEBUG off (a staging box; never production: the demo "
                 "logins are staff with a known password).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates staff logins with the password 'demo': refused with DEBUG off. "
                "Use --force on a staging box, never in production."
            )
        present = demo.accounts_present()
        org = demo.seed_accounts()
        self.stdout.write("  organisation and logins: "
                          + ("already there" if present else "created"))
        added = [step(org, self.stdout) for step in DEMO_STEPS]
        if present and not any(added):
            self.stdout.write(self.style.SUCCESS(
                f"Nothing was added: {org.name} was already seeded."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Demo organisation ready: {org.name}"))
        self.stdout.write(f"  admin:  {demo.DEMO_ADMIN} / {demo.DEMO_PASSWORD} (also staff)")
        self.stdout.write(f"  member: {demo.DEMO_MEMBER} / {demo.DEMO_PASSWORD}")

