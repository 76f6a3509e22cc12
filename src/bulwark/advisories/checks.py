"""What `bulwark check --deploy` says about the CSAF provider's signing key."""

import shutil
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register("security", deploy=True)
def csaf_signing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from bulwark.advisories import signing

    if not settings.CSAF_SIGNING_KEY:
        return []
    if shutil.which("gpg") is None:
        reason = "the gpg program is missing (apt-get install gnupg)"
    elif signing.signing_key() is None:
        home = settings.CSAF_GNUPGHOME or "gpg's default home"
        reason = f"no secret key with that fingerprint is in {home}"
    else:
        return []
    return [
        Warning(
            f"BULWARK_CSAF_SIGNING_KEY is set but unusable: {reason}.",
            hint="Until it is fixed the CSAF documents are not signed and the provider "
            "metadata announces the role csaf_provider without keys (docs/advisories.md).",
            id="bulwark.W201",
        )
    ]
