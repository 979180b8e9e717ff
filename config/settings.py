"""Settings, all read from the environment (see .env.example)."""

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

from config.env import SettingsRefused, strict_bool

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = strict_bool("DEBUG", False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise SettingsRefused("SECRET_KEY must be set when DEBUG is False")
    SECRET_KEY = "insecure-development-key-only-for-debug"

# The ledger's hash chain is keyed (docs/ledger.md, "Tamper evidence"). LEDGER_CHAIN_KEYS:
# "id=secret,id2=secret2", every key still needed to verify; LEDGER_CHAIN_KEY_ID: the one
# new entries and digests use (default: the first). Unset, one key derived from
# SECRET_KEY, id "sk1", is used: set your own so that rotating SECRET_KEY keeps the chain.
# `check --deploy` refuses the derived key (billing/checks.py).
LEDGER_CHAIN_KEYS_SET = bool(env.str("LEDGER_CHAIN_KEYS", default="").strip())
LEDGER_CHAIN_KEYS = (env.dict("LEDGER_CHAIN_KEYS") if LEDGER_CHAIN_KEYS_SET else {}) or {
    "sk1": hmac.new(SECRET_KEY.encode(), b"ledger-chain", hashlib.sha256).hexdigest()
}
LEDGER_CHAIN_KEY_ID = env.str("LEDGER_CHAIN_KEY_ID", default="") or next(iter(LEDGER_CHAIN_KEYS))
# A directory outside the database (another disk, a mounted bucket) where each daily digest's
# fingerprint is written too, as ledger-digest-<day>.txt (docs/ledger.md). Empty: mail only.
LEDGER_DIGEST_EXPORT = env.str("LEDGER_DIGEST_EXPORT", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # the widgets' own templates, for FORM_RENDERER below
    "django_q",
    "django_tables2",
    "django_filters",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "billing",
    "reporting",
]

# Widgets render through TEMPLATES, so templates/admin/widgets/ can name the split date
# and time inputs (the default renderer reads only the apps' templates).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    "billing.faults.middleware.UnavailableMiddleware",  # 503, not 500, for transient faults
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.second_factor.SecondFactorMiddleware",  # the code after the password
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.security_headers.SecurityHeadersMiddleware",  # Permissions-Policy, no-store
    "axes.middleware.AxesMiddleware",  # last: turns a locked login into its page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
                "billing.portal.context_processors.header",
                "billing.portal.account_banners.account_banners",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# A kept connection is checked before each request reuses it, so a database restart costs
# no request an error once the server is back.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# No request waits long on PostgreSQL: a statement running past the first limit, or a lock
# (the account row on the charge path) not granted within the second, fails and the request
# answers 503 with Retry-After (billing/faults/transient.py). 0 turns a limit off.
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=30000)
DATABASE_LOCK_TIMEOUT_MS = env.int("DATABASE_LOCK_TIMEOUT_MS", default=5000)
if DATABASE_STATEMENT_TIMEOUT_MS < 0 or DATABASE_LOCK_TIMEOUT_MS < 0:
    raise SettingsRefused("DATABASE_*_TIMEOUT_MS must be 0 (off) or a number of ms")
# The ledger's small writes are prepared once per connection (billing/ledger/store/
# one_statement.py). False behind a pooler in transaction mode (PgBouncer), which moves a
# session's transactions between server connections.
DATABASE_PREPARED_STATEMENTS = strict_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS} "
        f"-c lock_timeout={DATABASE_LOCK_TIMEOUT_MS}"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs a web process and a worker on one file: WAL lets readers
    # run beside the writer, IMMEDIATE takes the write lock up front so two
    # writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked login before the check
    "django.contrib.auth.backends.ModelBackend",
]

# Second factor (docs/operate.md, "Second factor"): staff must enrol at their first login
# unless DEBUG; anyone enrolled gives a code after the password.
OTP_REQUIRED_FOR_STAFF = strict_bool("OTP_REQUIRED_FOR_STAFF", not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Credits billing")

# Throttling (docs/operate.md, "Login throttling" and "Rate limits"). The client address
# is the TRUSTED_PROXY_COUNT-th from the right of X-Forwarded-For (1 behind our nginx).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each alone: the account, the client
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the login forms' field (the value is an email)
AXES_USERNAME_CALLABLE = "accounts.throttling.login_name"
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.locked_out"
AXES_VERBOSE = False
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.int("PASSWORD_RESET_LIMIT_PER_ADDRESS", default=3)
PASSWORD_RESET_LIMIT_PER_CLIENT = env.int("PASSWORD_RESET_LIMIT_PER_CLIENT", default=10)
# Requests per API key per minute; 0 turns the limit off (the demo's default).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=0)
if min(TRUSTED_PROXY_COUNT, AXES_FAILURE_LIMIT - 1, API_RATE_LIMIT_PER_MINUTE,
       PASSWORD_RESET_LIMIT_PER_ADDRESS, PASSWORD_RESET_LIMIT_PER_CLIENT) < 0 or (
        AXES_COOLOFF_TIME <= timedelta(0)):
    raise SettingsRefused(
        "TRUSTED_PROXY_COUNT, the API and password-reset limits must be 0 or more; "
        "LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES at least 1"
    )
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3
# How long an invitation's link stays open (docs/operate.md, "Members and invitations").
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
if INVITATION_DAYS < 1:
    raise SettingsRefused("INVITATION_DAYS must be a number of days, at least 1")
# How often an open portal page asks for its balance again (docs/operate.md, "Live balance").
LIVE_REFRESH_SECONDS = env.int("LIVE_REFRESH_SECONDS", default=5)
if LIVE_REFRESH_SECONDS < 1:
    raise SettingsRefused("LIVE_REFRESH_SECONDS must be a number of seconds, at least 1")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Mail: EMAIL_URL such as smtp+tls://user:pass@host:587; console in development.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")

# Security headers for production; all on unless DEBUG.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = strict_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = strict_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = strict_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = strict_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script reads it: the portal has none
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Content-Security-Policy (django-csp): the portal needs no JavaScript and no inline style;
# the admin's scripts are files of its own. Checkout and card forms redirect to Stripe.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF, "https://checkout.stripe.com", "https://billing.stripe.com"],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# Payments. "test" is the local provider for the demo; it never talks to Stripe
# and must be allowed explicitly outside DEBUG, so a production that forgot to
# configure Stripe refuses to start instead of handing out free credits.
PAYMENTS_PROVIDER = env.str("PAYMENTS_PROVIDER", default="test")
if PAYMENTS_PROVIDER not in ("stripe", "test"):
    raise SettingsRefused("PAYMENTS_PROVIDER must be 'stripe' or 'test'")
ALLOW_TEST_PAYMENTS = strict_bool("ALLOW_TEST_PAYMENTS", False)
if PAYMENTS_PROVIDER == "test" and not DEBUG and not ALLOW_TEST_PAYMENTS:
    raise SettingsRefused(
        "PAYMENTS_PROVIDER=test grants credits without payment: with DEBUG off it needs "
        "ALLOW_TEST_PAYMENTS=True (or set PAYMENTS_PROVIDER=stripe)"
    )
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Checkout as the seller set up the Stripe account (docs/stripe.md, "Discounts and tax"):
# promotion codes entered by the buyer; Stripe Tax (the buyer's address and tax ID).
STRIPE_ALLOW_PROMOTION_CODES = strict_bool("STRIPE_ALLOW_PROMOTION_CODES", False)
STRIPE_AUTOMATIC_TAX = strict_bool("STRIPE_AUTOMATIC_TAX", False)
if PAYMENTS_PROVIDER == "stripe" and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise SettingsRefused(
        "PAYMENTS_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"
    )

# The rate limits' counters: shared by every process through Redis when REDIS_URL is set,
# else per process (the demo).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Task queue (django-q2): the ORM broker on the default database, or Redis
# when REDIS_URL is set so that several worker machines share one queue.
REDIS_URL = env.str("REDIS_URL", default="")
_sqlite = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
Q_CLUSTER = {
    "name": "credits",
    "workers": 1 if _sqlite else env.int("Q_WORKERS", default=2),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": REDIS_URL, "KEY_PREFIX": "credits"}
else:
    Q_CLUSTER["orm"] = "default"
if strict_bool("Q_SYNC", False):
    Q_CLUSTER["sync"] = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Ninja must not turn our JSON errors into its own shape.
NINJA_PAGINATION_CLASS = "ninja.pagination.LimitOffsetPagination"
