from django.apps import apps
from django.core.management.base import BaseCommand

from accounts import demo


class Command(BaseCommand):
    help = "Create (or top up to) the demo organisation Acme Robotics. Safe to run again."

    def handle(self, *args, **options):
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
