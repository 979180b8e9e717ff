from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import create_organization


class Command(BaseCommand):
    help = "Create an organisation, optionally with its first admin."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", required=True, help="free, professional or enterprise")
        parser.add_argument("--admin-email")

    def handle(self, *args, slug, name, plan, admin_email, **options):
        try:
            org = create_organization(name=name, slug=slug, plan=plan, admin_email=admin_email)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Created organisation {org.slug} ({org.name}, {org.plan})")
        if admin_email:
            self.stdout.write(
                f"Admin {admin_email} has no password yet: use 'Forgot your password?' to set one."
            )
