"""Register the webhook endpoint with Stripe: exactly the event types the areas handle
(billing/webhooks/registry.py) and the pinned API version (docs/stripe.md)."""

from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from billing.payments import stripe_provider
from billing.payments.interface import PaymentError
from billing.webhooks import handled_types

WEBHOOK_PATH = "/billing/stripe/webhook/"


class Command(BaseCommand):
    help = ("Create or update the Stripe webhook endpoint at --url with exactly the event "
            "types handled here and the pinned API version; prints where the signing "
            "secret goes.")

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True,
                            help=f"the public https URL of {WEBHOOK_PATH} on this site")

    def handle(self, *args, url, **options):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or not parts.path.endswith(WEBHOOK_PATH):
            raise CommandError(f"--url must be an https URL ending in {WEBHOOK_PATH}: {url!r}")
        events = handled_types()
        try:
            endpoint, done, others = stripe_provider.set_up_webhook_endpoint(url=url,
                                                                             events=events)
        except PaymentError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{done} {endpoint['id']}: {url}, API version "
                          f"{stripe_provider.API_VERSION}, {len(events)} event types")
        if done == "created":
            self.stdout.write("Put its signing secret in .env (then restart):")
            self.stdout.write(f"STRIPE_WEBHOOK_SECRET={endpoint['secret']}")
        else:
            self.stdout.write("The signing secret is unchanged: keep STRIPE_WEBHOOK_SECRET "
                              "in .env as it is.")
        for other in others:
            self.stdout.write(f"Endpoint {other} at the same URL has another API version: "
                              "delete it in Stripe once the new secret is in place.")
