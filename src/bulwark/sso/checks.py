"""What `bulwark check` says about single sign-on (deploy checks)."""

import shutil
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError

from bulwark.sso.models import IdentityProvider


@register(Tags.security, deploy=True)
def single_sign_on(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        protocols = set(
            IdentityProvider.objects.usable().values_list("protocol", flat=True).distinct()
        )
    except DatabaseError:  # not migrated yet: nothing is configured
        return []
    found: list[CheckMessage] = []
    if protocols and not settings.SITE_URL.startswith("https://"):
        found.append(
            Error(
                "Single sign-on is configured but BULWARK_SITE_URL is not https.",
                hint="Identity providers send sign-ins back to BULWARK_SITE_URL: serve it "
                "over TLS and set BULWARK_SITE_URL=https://...",
                id="bulwark.E101",
            )
        )
    if IdentityProvider.Protocol.SAML in protocols and not shutil.which("xmlsec1"):
        found.append(
            Error(
                "A SAML identity provider is configured but the xmlsec1 program is missing.",
                hint="apt-get install xmlsec1 (SAML signatures are checked with it).",
                id="bulwark.E102",
            )
        )
    return found
