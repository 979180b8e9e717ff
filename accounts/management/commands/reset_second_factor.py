"""reset_second_factor --email EMAIL: removes a person's authenticator and recovery codes
(a lost phone). Staff are asked to enrol again at their next login."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.second_factor import reset_second_factor


class Command(BaseCommand):
    help = "Remove a person's second factor (authenticator app and recovery codes)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)

    def handle(self, *args, email, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"no user with email {email!r}")
        removed = reset_second_factor(user)
        self.stdout.write(
            f"Removed {removed} device(s) of {user.email}; their next login "
            + ("enrols a new authenticator." if user.is_staff else "needs the password only.")
        )
