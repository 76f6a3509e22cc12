"""Settings: everything that differs between machines comes from the environment.

`DATABASE_URL` unset means the embedded default, SQLite in `var/` (WAL, busy timeout,
immediate transactions); a `postgres://` URL selects PostgreSQL. `bulwark check` lists
what is unsafe or missing for production.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("BULWARK_DATA_DIR", Path.cwd() / "var"))

INSECURE_DEFAULT_SECRET = "insecure-bulwark-development-key-never-use-in-production"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("BULWARK_SECRET_KEY", INSECURE_DEFAULT_SECRET)
# The audit chain is keyed separately so that rotating the session secret does not
# invalidate the history, and so that whoever can write the database cannot re-chain it.
AUDIT_CHAIN_KEY = os.environ.get("BULWARK_AUDIT_KEY", SECRET_KEY)
# Signed checkpoints of the audit log's head, outside the database (core/anchor.py).
AUDIT_ANCHOR_FILE = Path(
    os.environ.get("BULWARK_AUDIT_ANCHOR_FILE", DATA_DIR / "audit-anchor.jsonl")
)
AUDIT_ANCHOR_EMAIL = [
    a.strip() for a in os.environ.get("BULWARK_AUDIT_ANCHOR_EMAIL", "").split(",") if a.strip()
]
DEBUG = env_bool("BULWARK_DEBUG", False)
PRODUCTION = env_bool("BULWARK_PRODUCTION", False)
ALLOWED_HOSTS = env_list("BULWARK_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("BULWARK_CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("BULWARK_SITE_URL", "http://127.0.0.1:8000")
# This CERT's name in exported incidents (IODEF IncidentID@name, STIX id namespace): its
# domain name, set once per deployment (changing it re-keys every exported id).
CERT_NAME = os.environ.get("BULWARK_CERT_NAME", "bulwark")
# The CSAF provider signs its documents (OpenPGP) with this key when set: the fingerprint
# of a secret key in BULWARK_CSAF_GNUPGHOME (gpg's default home when empty); see
# docs/advisories.md. Without it nothing is signed and no signature is announced.
CSAF_SIGNING_KEY = os.environ.get("BULWARK_CSAF_SIGNING_KEY", "")
CSAF_GNUPGHOME = os.environ.get("BULWARK_CSAF_GNUPGHOME", "")
CSAF_SIGNING_PASSPHRASE = os.environ.get("BULWARK_CSAF_SIGNING_PASSPHRASE", "")
# This CSIRT's fully qualified domain name: IODEF IncidentID@name (RFC 7970 3.4 asks for
# the FQDN of the CSIRT issuing the id). Default: the host of SITE_URL.
CSIRT_FQDN = (
    os.environ.get("BULWARK_CSIRT_FQDN", "").strip().rstrip(".").lower()
    or (urlsplit(SITE_URL).hostname or "localhost").lower()
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for FORM_RENDERER below
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "bulwark.core",
    "bulwark.constituency",
    "bulwark.incidents",
    "bulwark.intel",
    "bulwark.exchange",
    "bulwark.monitoring",
    "bulwark.advisories",
    "bulwark.drills",
    "bulwark.findings",
    "bulwark.analytics",
    "bulwark.sso",
    "bulwark.training",
]

MIDDLEWARE = [
    "bulwark.core.observability.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "bulwark.core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bulwark.core.middleware.RequestBodyLimitMiddleware",
    # Drill mail tracking links answered before sessions and authentication (docs/drills.md).
    "bulwark.drills.middleware.TrackingShortPathMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bulwark.constituency.timezones.UserTimeZoneMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "bulwark.core.middleware.RequestContextMiddleware",
    "bulwark.constituency.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bulwark.urls"
WSGI_APPLICATION = "bulwark.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bulwark.core.context_processors.notifications",
                "bulwark.constituency.context_processors.viewer",
            ],
        },
    },
]

# Forms render through the project's template engine, so templates/django/forms/ can
# override Django's: a form-wide (non-field) error is announced to screen readers there.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # One test database per process, so that concurrent test runs do not collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "bulwark.sqlite3"),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at the start
    # of a transaction so two writers queue (busy timeout) instead of failing mid-way.
    # A 64 MB page cache per connection (SQLite's default is 2 MB) keeps the indexes of a
    # large store in memory: +6 % on bench/intel_ingest.py (docs/intel.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA cache_size=-65536;"
        ),
    }
    # A file (not memory) so that worker subprocesses in tests can open it; one per
    # process so that concurrent test runs do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-bulwark-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------
AUTH_USER_MODEL = "constituency.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
OTP_TOTP_ISSUER = "Bulwark"
# Login throttling: failures per username and per client address inside the window.
LOGIN_FAILURE_LIMIT = int(os.environ.get("BULWARK_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("BULWARK_LOGIN_FAILURE_WINDOW", "900"))
# Password-reset mails: at most this many per account, and 4x as many per requesting
# address, in the window (docs/operations.md).
RESET_MAIL_LIMIT = int(os.environ.get("BULWARK_RESET_MAIL_LIMIT", "3"))
RESET_MAIL_WINDOW_SECONDS = int(os.environ.get("BULWARK_RESET_MAIL_WINDOW", "3600"))
# Invitation links (onboarding): how long a link is valid; re-sending starts it afresh.
INVITATION_DAYS = int(os.environ.get("BULWARK_INVITATION_DAYS", "7"))
# Mail-bombing brakes: one person invites at most this many addresses an hour, and an
# invitation is sent again only this many seconds after its last mail.
INVITATIONS_PER_HOUR = int(os.environ.get("BULWARK_INVITATIONS_PER_HOUR", "100"))
INVITATION_RESEND_SECONDS = int(os.environ.get("BULWARK_INVITATION_RESEND_SECONDS", "300"))
# Recovery codes a person gets with their authenticator (each works once).
RECOVERY_CODE_COUNT = 10
# Caches. "api": answers of the constituency's read endpoints, kept per viewer and
# constituency stamp (constituency/api/caching.py), in each worker process, bounded in
# entries and kept at most 5 minutes.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "api",
        "TIMEOUT": 300,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_HTTPONLY = True

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hant", _("Traditional Chinese"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("BULWARK_TIME_ZONE", "Asia/Taipei")

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Mail -----------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("BULWARK_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("BULWARK_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("BULWARK_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("BULWARK_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("BULWARK_EMAIL_STARTTLS", False)
EMAIL_USE_SSL = env_bool("BULWARK_EMAIL_SSL", False)
EMAIL_TIMEOUT = 30
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("BULWARK_FROM_EMAIL", "bulwark@localhost")

# --- Background tasks -----------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "bulwark.constituency.api.authentication.BearerTokenAuthentication",
        "bulwark.constituency.api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "bulwark.constituency.api.permissions.TokenScope",
    ],
    "DEFAULT_PAGINATION_CLASS": "bulwark.core.api.pagination.LimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "bulwark.core.api.parsers.JSONParser",
        "bulwark.core.api.parsers.FormParser",
        "bulwark.core.api.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bulwark.core.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bulwark API",
    "DESCRIPTION": "REST API of the Bulwark national CERT platform.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ImpactEnum": "bulwark.incidents.models.IMPACT_CHOICES",
        "EngagementKindEnum": "bulwark.findings.models.EngagementKind",
        "RemediationEventKindEnum": "bulwark.findings.models.EventKind",
        # The names clients knew before the new apps brought fields of the same names.
        "StatusEnum": "bulwark.incidents.models.STATUS_CHOICES",
        "RoleEnum": "bulwark.constituency.models.Role",
        "HoursKindEnum": "bulwark.training.models.HoursKind",
        "LearnerRoleEnum": "bulwark.training.models.TrainingRole",
        "ImprovementItemStateEnum": "bulwark.drills.models.ImprovementItem.State",
        "ExpectationKindEnum": "bulwark.drills.models.Expectation.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bulwark.core.api.schema.add_error_responses",
    ],
}
# Bodies larger than this are refused with 413 before any parser sees them.
MAX_REQUEST_BODY_BYTES = int(os.environ.get("BULWARK_MAX_REQUEST_BODY", str(2 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# The TAXII server's one limit: advertised as max_content_length at /taxii2/api/ and the
# size its endpoints (only they) accept; larger bodies get a TAXII 413 error object.
INTEL_TAXII_MAX_CONTENT_LENGTH = int(
    os.environ.get("BULWARK_TAXII_MAX_CONTENT_LENGTH", str(64 * 1024 * 1024))
)
# Evidence uploads may be larger; only their endpoints accept this size.
MAX_EVIDENCE_BYTES = int(os.environ.get("BULWARK_MAX_EVIDENCE", str(100 * 1024 * 1024)))
MEDIA_ROOT = Path(os.environ.get("BULWARK_MEDIA_DIR", DATA_DIR / "files"))
# The key that signs referral packages (PEM, Ed25519); created in DATA_DIR when unset.
SIGNING_KEY_FILE = Path(os.environ.get("BULWARK_SIGNING_KEY_FILE", DATA_DIR / "signing-key.pem"))
# Files of DATA_DIR that `bulwark backup` keeps beside the database and the media files
# (glob patterns; the audit anchors). Keys are never archived, only their fingerprints.
BACKUP_EXTRA_FILES = env_list("BULWARK_BACKUP_FILES", "audit-anchor*")

# --- Transport security -----------------------------------------------------------------
TLS = env_bool("BULWARK_TLS", False)
if TLS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("BULWARK_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is hard to undo (browsers ship the list): only when asked for explicitly.
    SECURE_HSTS_PRELOAD = env_bool("BULWARK_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Not preloading is a choice, not a finding: Django's deploy check would otherwise fail
# `bulwark check --deploy` on every site that did not ask for the preload list.
SILENCED_SYSTEM_CHECKS = [] if globals().get("SECURE_HSTS_PRELOAD") else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles from our own static files only,
# no inline script, style or event handler anywhere (docs/operations.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features no page of Bulwark uses are switched off for every page.
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), fullscreen=(self), "
    "geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "publickey-credentials-get=(self), usb=(), xr-spatial-tracking=()"
)

# --- Observability (docs/operations.md, "Metrics and logs") ---------------------------------
# /metrics is readable from these networks (CIDRs, comma-separated) or with a platform
# admin's API token.
METRICS_ALLOW = env_list("BULWARK_METRICS_ALLOW", "")
# The monitoring stream's JetStream server and stream, for the consumer-pending gauge.
NATS_URL = os.environ.get("NATS_URL", "")
MONITORING_STREAM = os.environ.get("BULWARK_MONITORING_STREAM", "LOGS")
LOG_FORMAT = os.environ.get("BULWARK_LOG_FORMAT", "text")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "bulwark.core.observability.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "bulwark.core.observability.JsonFormatter"},
        "text": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("BULWARK_LOG_LEVEL", "INFO")},
    "loggers": {"django.tasks": {"level": "INFO"}},
}
TRUST_X_FORWARDED_FOR = env_bool("BULWARK_TRUST_X_FORWARDED_FOR", False)
