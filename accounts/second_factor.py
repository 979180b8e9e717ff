"""A second factor (django-otp): TOTP from an authenticator app, and ten single-use
recovery codes (django-otp's static device). docs/operate.md, "Second factor".

- Once a person has a confirmed device, every page but the second-factor ones asks for
  a code after the password (SecondFactorMiddleware): a staff password alone no longer
  reaches the admin.
- Staff without a device are sent to enrol first when OTP_REQUIRED_FOR_STAFF (on
  without DEBUG); for org admins and members it is optional, from their security page.
"""

from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
# Reachable before the second factor: its own pages, logging in and out, static files.
OPEN_PREFIXES = (
    "/account/security/",
    "/login/",
    "/logout/",
    "/admin/login/",
    "/admin/logout/",
    "/static/",
    "/api/",
    "/password-reset/",
)


def pending_totp(user) -> TOTPDevice:
    """The authenticator being set up (unconfirmed), made on first need."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG (no script, no style: CSP-safe)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def secret_text(device: TOTPDevice) -> str:
    """The key to type into an app that cannot scan, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_totp(*, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirms the app's first code; the new recovery codes, or None for a wrong code."""
    if not device.verify_token(token):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return new_recovery_codes(device.user)


def new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
    return codes


def reset_second_factor(user) -> int:
    """Removes every device of the person (lost phone): how many were removed."""
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).count()
        StaticDevice.objects.filter(user=user).delete()
    return removed


def must_enrol(user) -> bool:
    return user.is_staff and settings.OTP_REQUIRED_FOR_STAFF and not user_has_device(user)


class SecondFactorMiddleware:
    """After django_otp's OTPMiddleware: asks for the code, or for enrolment."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not request.path.startswith(OPEN_PREFIXES):
            target = None
            if user_has_device(user):
                if not user.is_verified():
                    target = "second_factor_verify"
            elif must_enrol(user):
                target = "second_factor_setup"
            if target:
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse(target)}?{query}")
        return self.get_response(request)
