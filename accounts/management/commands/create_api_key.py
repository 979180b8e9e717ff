from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.management.lookup import organization_or_error
from accounts.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key for an organisation. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--name", required=True)

    def handle(self, *args, org, name, **options):
        organization = organization_or_error(org)
        try:
            new_key = create_api_key(organization=organization, name=name, created_by=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if not organization.billing_enabled:
            self.stderr.write(self.style.WARNING(
                f"Warning: {organization.slug} is on the {organization.get_plan_display()} plan, "
                "which has no credits billing: the API answers every request with this key "
                "403 plan_not_eligible until the organisation moves to a paid plan."))
        self.stderr.write(f"Created API key {name!r} for {organization.slug}. Store it now:")
        self.stdout.write(new_key.raw_key)
