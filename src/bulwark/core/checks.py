"""What `bulwark check` reports as unsafe or missing for production (deploy checks)."""

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from bulwark import settings as defaults


@register(Tags.security, deploy=True)
def production_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if settings.DEBUG:
        found.append(Error("Debug mode is on.", hint="Unset BULWARK_DEBUG.", id="bulwark.E001"))
    if settings.SECRET_KEY == defaults.INSECURE_DEFAULT_SECRET or len(settings.SECRET_KEY) < 50:
        found.append(
            Error(
                "The secret key is the built-in development key or too short.",
                hint="Set BULWARK_SECRET_KEY to 50+ random characters.",
                id="bulwark.E002",
            )
        )
    if settings.AUDIT_CHAIN_KEY in {defaults.INSECURE_DEFAULT_SECRET, settings.SECRET_KEY}:
        found.append(
            Warning(
                "The audit chain is keyed with the session secret.",
                hint="Set BULWARK_AUDIT_KEY to its own random value and keep a copy offline.",
                id="bulwark.W003",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        found.append(
            Warning(
                "SQLite is the embedded default; production runs on PostgreSQL.",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/bulwark.",
                id="bulwark.W004",
            )
        )
    if not settings.EMAIL_HOST:
        found.append(
            Warning(
                "Mail is not configured: notifications and password resets go to the console.",
                hint="Set BULWARK_EMAIL_HOST (and PORT, USER, PASSWORD, STARTTLS).",
                id="bulwark.W005",
            )
        )
    if not getattr(settings, "TLS", False):
        found.append(
            Warning(
                "TLS settings are off: cookies may travel in clear and HSTS is not sent.",
                hint="Serve over HTTPS behind a proxy and set BULWARK_TLS=1.",
                id="bulwark.W006",
            )
        )
    if settings.SITE_URL.startswith("http://"):
        found.append(
            Warning(
                "BULWARK_SITE_URL is not an https:// address; links in e-mails use it.",
                id="bulwark.W007",
            )
        )
    if any("*" in host for host in settings.ALLOWED_HOSTS):
        found.append(
            Error(
                "ALLOWED_HOSTS accepts any host name ('*'): forged Host headers reach the "
                "application.",
                hint="Set BULWARK_ALLOWED_HOSTS to the site's own host names.",
                id="bulwark.E008",
            )
        )
    return found


@register(Tags.security)
def metrics_allow_list(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """BULWARK_METRICS_ALLOW: an entry that is not an address or network is left out of
    the list (fails closed); say so rather than let a scraper get 403 unexplained."""

    found: list[CheckMessage] = []
    for entry in getattr(settings, "METRICS_ALLOW", []):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            found.append(
                Error(
                    f"BULWARK_METRICS_ALLOW: {entry!r} is not an address or network.",
                    hint="Use CIDRs such as 10.0.0.0/8 or 2001:db8::/32, comma-separated.",
                    id="bulwark.E020",
                )
            )
    return found
