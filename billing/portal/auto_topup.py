"""The auto-topup page (settings, saved card, recent attempts) and the card's actions.

Members see it read only; admins change it (org_view refuses their POSTs otherwise).
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.confirmation import confirmation_page
from accounts.portal import org_view
from billing.models import SavedCard
from billing.payments import local_provider
from billing.payments.interface import PaymentError
from billing.payments.providers import configured_provider
from billing.portal.topup_forms import AutoTopupForm
from billing.topups import cards, configuration, selectors


def _page(request, form):
    return render(request, "billing/auto_topup.html", {
        "form": form, "topup": configuration.settings_of(request.org),
        "card": SavedCard.objects.filter(organization=request.org).first(),
        "attempts": selectors.recent_attempts(request.org),
        "is_org_admin": request.membership.is_admin,
    })


@require_http_methods(["GET", "POST"])
@org_view()
def auto_topup(request):
    row = configuration.settings_of(request.org)
    if request.method != "POST":
        form = AutoTopupForm(initial=AutoTopupForm.initial_from(row))
        if not request.membership.is_admin:
            for field in form.fields.values():
                field.disabled = True
        return _page(request, form)
    form = AutoTopupForm(request.POST)
    if form.is_valid():
        try:
            choice = configuration.TopupChoice(
                enabled=form.cleaned_data["enabled"], threshold=form.cleaned_data["threshold"],
                package=form.cleaned_data["package"], mode=form.cleaned_data["mode"],
                target_balance=form.cleaned_data["target_balance"],
                monthly_cap_minor=form.cleaned_data["monthly_cap_minor"])
            configuration.update_settings(organization=request.org, choice=choice,
                                          actor=request.user)
        except configuration.TopupSettingsError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Auto-topup settings saved.")
            return redirect("auto_topup", slug=request.org.slug)
    return _page(request, form)


@require_POST
@org_view()
def card_setup(request):
    try:
        url = cards.start_card_setup(organization=request.org, actor=request.user)
    except PaymentError as error:
        messages.error(request, f"The card page could not be opened: {error}")
        return redirect("auto_topup", slug=request.org.slug)
    return redirect(url)


@require_GET
@org_view(admin_only_methods=("GET",))
def card_setup_done(request):
    try:
        card = cards.finish_card_setup(organization=request.org,
                                       session_id=request.GET.get("session_id", ""),
                                       actor=request.user)
    except PaymentError as error:
        messages.warning(request, f"We could not read the new card yet ({error}).")
    else:
        if card is not None:
            messages.success(request, f"Saved {card} for auto-topup.")
    return redirect("auto_topup", slug=request.org.slug)


@require_http_methods(["GET", "POST"])
@org_view(admin_only_methods=("GET", "POST"))
def card_remove(request):
    if request.method == "GET":
        card = SavedCard.objects.filter(organization=request.org).first()
        if card is None:
            return redirect("auto_topup", slug=request.org.slug)
        return confirmation_page(
            request, title=f"Remove {card}?",
            consequence="Auto-topup cannot charge until a new card is saved.",
            action_label="Remove the card",
            cancel_url=reverse("auto_topup", args=[request.org.slug]))
    if cards.remove_card(organization=request.org, actor=request.user):
        messages.success(request, "The card was removed; auto-topup cannot charge until a new "
                                  "one is saved.")
    return redirect("auto_topup", slug=request.org.slug)


@require_http_methods(["GET", "POST"])
@org_view(admin_only_methods=("GET", "POST"))
def test_card_setup(request):
    """The local provider's stand-in for Checkout in setup mode (PAYMENTS_PROVIDER=test)."""
    if not configured_provider().is_test:
        raise Http404("The test payment provider is off")
    if request.method == "POST":
        card_id = request.POST.get("card", "")
        if card_id in local_provider.TEST_CARDS:
            card = cards.save_test_card(organization=request.org, payment_method_id=card_id,
                                        actor=request.user)
            messages.success(request, f"Saved {card} for auto-topup (test mode).")
            return redirect("auto_topup", slug=request.org.slug)
        messages.error(request, "Choose one of the test cards.")
    return render(request, "billing/test_card_setup.html", {
        "test_cards": local_provider.TEST_CARDS,
        "default_card": local_provider.DEFAULT_TEST_CARD})
