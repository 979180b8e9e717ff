"""Settings for the test suite: DEBUG off like production, but local parts."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("PAYMENTS_PROVIDER", "test")
os.environ.setdefault("ALLOW_TEST_PAYMENTS", "True")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("STRIPE_SECRET_KEY", "sk_test_stub")
os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_test_secret")
# Nothing listens on port 9: a test that reaches Stripe without the stub fails fast, offline.
os.environ.setdefault("STRIPE_API_BASE", "http://127.0.0.1:9")

from config.settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
# Serve static files from the app folders, so tests need no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Most tests log staff in without a device; tests/accounts/test_second_factor.py turns
# enrolment on as production has it.
OTP_REQUIRED_FOR_STAFF = False
# The mutation run (tests/mutants.py) calls pytest again and again in one process, and after
# the first call NAME is the test database's own: name the test database once, here.
if os.environ.get("MUTANT_TESTS") and "postgresql" in DATABASES["default"]["ENGINE"]:  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}  # noqa: F405
