from django.core.management.base import BaseCommand, CommandError

from accounts.management.lookup import organization_or_error
from accounts.models import User
from accounts.text import text_problem
from billing import money
from billing.ledger.actor import Actor
from billing.ledger.corrections import adjust_credits
from billing.ledger.errors import LedgerError


class Command(BaseCommand):
    help = "Add (positive) or remove (negative) credits with a reason; removal may leave a debt."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--credits", required=True, help="e.g. 500 or -12.5")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--actor", help="email of the staff member responsible")
        parser.add_argument("--request-id", help="makes a retried command post once")

    def handle(self, *args, org, credits, reason, actor, request_id, **options):
        organization = organization_or_error(org)
        try:
            amount = money.parse_credits(credits, allow_negative=True)
        except money.InvalidAmount as error:
            raise CommandError(f"--credits: {error}") from None
        if actor:
            user = None if text_problem(actor) else User.objects.filter(
                email__iexact=actor).first()
            if user is None:
                raise CommandError(f"no user with email {actor!r}")
            who = Actor.user(user)
        else:
            who = Actor.system("adjust_credits")
        if request_id is not None and (text_problem(request_id) or len(request_id) > 200):
            raise CommandError("--request-id must be at most 200 characters of plain text")
        try:
            posting = adjust_credits(organization=organization, credits=amount, reason=reason,
                                     actor=who, request_id=request_id)
        except LedgerError as error:
            raise CommandError(str(error)) from None
        entry = posting.entry
        note = " (already posted)" if posting.replayed else ""
        self.stdout.write(
            f"Entry #{entry.pk}: {money.display_exact(entry.amount)} credits{note}; "
            f"balance now {money.display_exact(entry.balance_after)}"
        )
