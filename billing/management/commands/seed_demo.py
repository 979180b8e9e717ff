from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.demo import organization as demo


class Command(BaseCommand):
    help = (
        "Create (or top up to) the demo organisation Acme Robotics, with logins whose password "
        "is 'demo'. Safe to run again. Refused with DEBUG off unless --force."
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
        org = demo.seed_accounts()
        for step in demo_steps():
            step(org, self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo organisation ready: {org.name}"))
        self.stdout.write(f"  admin:  {demo.DEMO_ADMIN} / {demo.DEMO_PASSWORD} (also staff)")
        self.stdout.write(f"  member: {demo.DEMO_MEMBER} / {demo.DEMO_PASSWORD}")


def demo_steps() -> list:
    """Each installed app may offer idempotent demo steps through its AppConfig's
    `demo_steps()`; they run in INSTALLED_APPS order, so an app's data exists
    before the apps that build on it. accounts needs to know none of them."""
    steps = []
    for config in apps.get_app_configs():
        offer = getattr(config, "demo_steps", None)
        if offer is not None:
            steps.extend(offer())
    return steps
