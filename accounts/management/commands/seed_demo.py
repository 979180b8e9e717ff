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


def demo_steps():
    """Each module that has demo data contributes one idempotent step."""
    from billing.demo import DEMO_STEPS

    return DEMO_STEPS
