import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Every view and what it imports, loaded now rather than at the first request, then
# frozen out of the garbage collector's sight: the collector's full passes walk every
# tracked object, and a process's modules are most of them (stripe alone brings aiohttp
# when it is installed). A 1,000-event batch allocates enough to trigger those passes;
# with the modules frozen each costs a fraction (docs/deploy.md, "Worker processes").
get_resolver().url_patterns  # noqa: B018 (imports the URLconf and every view)
if settings.STRIPE_SECRET_KEY or settings.STRIPE_WEBHOOK_SECRET:
    # Imported on first use elsewhere (commands start faster): here, before the freeze.
    from billing.payments.stripe_provider import stripe_library

    stripe_library()
gc.collect()
gc.freeze()
