"""Portal pages to buy credit packages and follow purchases, and the test provider's checkout."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.portal import org_view
from billing.models import PurchaseStatus
from billing.payments import local_provider
from billing.payments.interface import PaymentError
from billing.payments.providers import configured_provider, provider_named
from billing.purchases import checkout, errors, fulfilment, selectors
from billing.topups import cards


@require_GET
@org_view()
def packages(request):
    return render(request, "billing/packages.html", {
        "offers": selectors.package_offers(),
        "pending": selectors.pending_purchases(request.org),
        "test_mode": configured_provider().is_test,
    })


@require_POST
@org_view()
def buy(request, package_id):
    package = get_object_or_404(selectors.active_packages(), pk=package_id)
    try:
        purchase = checkout.start_purchase(organization=request.org, package=package,
                                            buyer=request.user)
    except (errors.PurchaseError, PaymentError) as error:
        messages.error(request, f"The purchase could not be started: {error}")
        return redirect("packages", slug=request.org.slug)
    return redirect(purchase.checkout_url, permanent=False)


@require_GET
@org_view()
def purchase_list(request):
    page = Paginator(selectors.purchases_of(request.org), 25).get_page(request.GET.get("page"))
    return render(request, "billing/purchases.html", {"page": page, "purchases": page})


@require_GET
@org_view()
def purchase_success(request, purchase_id):
    purchase = get_object_or_404(selectors.purchases_of(request.org), pk=purchase_id)
    session_id = request.GET.get("session_id", "")
    if (purchase.status == PurchaseStatus.PENDING
            and session_id and session_id == purchase.stripe_checkout_session_id):
        # Confirm now rather than wait for the webhook; both grant exactly once. The test
        # provider's page has confirmed already: it has no session to read (None).
        try:
            session = provider_named(purchase.provider).retrieve_checkout_session(
                session_id=session_id)
            if session is not None:
                purchase = (fulfilment.fulfil_checkout_session(session=session).purchase
                            or purchase)
                if session.get("payment_status") == "paid":
                    cards.save_card_from_session(session, organization=request.org,
                                                 actor=request.user)
        except (PaymentError, errors.PurchaseError) as error:
            messages.warning(request, f"We could not confirm the payment yet ({error}). "
                             "The credits arrive as soon as Stripe confirms it.")
    return render(request, "billing/purchase_success.html", {"purchase": purchase})


@require_GET
@org_view()
def purchase_cancel(request, purchase_id):
    purchase = get_object_or_404(selectors.purchases_of(request.org), pk=purchase_id)
    return render(request, "billing/purchase_cancel.html", {"purchase": purchase})


@require_http_methods(["GET", "POST"])
@org_view(admin_only_methods=("GET", "POST"))
def test_checkout(request, purchase_id):
    """The local payment page of PAYMENTS_PROVIDER=test: Pay runs the webhook's fulfilment."""
    provider = configured_provider()
    if not provider.is_test:
        raise Http404("The test payment provider is off")
    purchase = get_object_or_404(
        selectors.purchases_of(request.org).filter(provider=provider.name), pk=purchase_id
    )
    if request.method == "POST":
        if purchase.status != PurchaseStatus.PENDING:
            messages.error(request, f"This purchase is already {purchase.get_status_display()}.")
            return redirect("purchases", slug=request.org.slug)
        if "pay" in request.POST:
            card = request.POST.get("card", local_provider.DEFAULT_TEST_CARD)
            if card not in local_provider.TEST_CARDS:
                messages.error(request, "Choose one of the test cards.")
                return redirect("test_checkout", slug=request.org.slug, purchase_id=purchase.pk)
            session = local_provider.local_checkout_session(purchase, paid=True)
            fulfilment.fulfil_checkout_session(session=session)
            cards.save_test_card(organization=request.org, payment_method_id=card,
                                 actor=request.user)
            return redirect("purchase_success", slug=request.org.slug, purchase_id=purchase.pk)
        fulfilment.mark_expired(session=local_provider.local_checkout_session(purchase, paid=False))
        return redirect("purchase_cancel", slug=request.org.slug, purchase_id=purchase.pk)
    return render(request, "billing/test_checkout.html", {
        "purchase": purchase, "test_cards": local_provider.TEST_CARDS,
        "default_card": local_provider.DEFAULT_TEST_CARD})
