"""The security page: set up an authenticator app, see recovery codes once, and give the
code after the password (accounts/second_factor.py says when it is asked)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp import match_token, user_has_device

from accounts import second_factor


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


@never_cache
@login_required
def security(request):
    return render(
        request,
        "accounts/security.html",
        {
            "enrolled": user_has_device(request.user),
            "required": second_factor.must_enrol(request.user) or request.user.is_staff,
        },
    )


@never_cache
@login_required
def setup(request):
    if user_has_device(request.user):
        messages.info(request, "Your authenticator app is already set up.")
        return redirect("second_factor_security")
    device = second_factor.pending_totp(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = second_factor.confirm_totp(device=device, token=form.cleaned_data["token"])
        if codes is None:
            form.add_error(
                "token", "That code is not right: check the app's clock and try the newest code."
            )
        else:
            otp_login(request, device)
            return render(
                request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)}
            )
    return render(
        request,
        "accounts/second_factor_setup.html",
        {
            "form": form,
            "qr": second_factor.qr_svg(device),
            "secret": second_factor.secret_text(device),
            "next": _next(request),
            "forced": second_factor.must_enrol(request.user),
        },
    )


@never_cache
@login_required
def verify(request):
    if not user_has_device(request.user):
        return redirect("second_factor_setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].replace(" ", ""))
        if device is None:
            form.add_error("token", "That code is not right, or was used already.")
        else:
            otp_login(request, device)
            return redirect(_next(request))
    return render(
        request,
        "accounts/second_factor_verify.html",
        {"form": form, "next": _next(request)},
        status=400 if form.errors else 200,
    )
