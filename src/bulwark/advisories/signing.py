"""OpenPGP signatures of the published CSAF documents (CSAF 2.0 sections 7.1.19 and
7.1.20), made by GnuPG through python-gnupg.

The key is a secret key in a GnuPG home on the server: `BULWARK_CSAF_SIGNING_KEY` names
its fingerprint, `BULWARK_CSAF_GNUPGHOME` the home (gpg's default when empty) and
`BULWARK_CSAF_SIGNING_PASSPHRASE` its passphrase, if any. Without a usable key nothing is
signed and the provider metadata claims no signatures (role `csaf_provider`, no
`public_openpgp_keys`); with one it is a `csaf_trusted_provider`."""

import functools

import gnupg
from django.conf import settings


class SigningError(RuntimeError):
    pass


def _gpg(home: str) -> gnupg.GPG:
    return gnupg.GPG(gnupghome=home or None)


@functools.lru_cache(maxsize=8)
def _usable(fingerprint: str, home: str) -> str | None:
    """The key's full fingerprint when the home holds its secret key (checked once per
    process; restart after importing a key)."""
    try:
        keys = _gpg(home).list_keys(secret=True)
    except (OSError, ValueError):
        return None
    for key in keys:
        full = str(key.get("fingerprint", "")).upper()
        if full and full.endswith(fingerprint):
            return full
    return None


def signing_key() -> str | None:
    """The fingerprint of the configured signing key, or None when there is none to use."""
    wanted = settings.CSAF_SIGNING_KEY.replace(" ", "").upper()
    if len(wanted) < 16:
        return None
    return _usable(wanted, settings.CSAF_GNUPGHOME)


def sign(data: bytes) -> str:
    """A detached, ASCII-armoured OpenPGP signature of `data`."""
    fingerprint = signing_key()
    if fingerprint is None:
        raise SigningError("no CSAF signing key is configured")
    result = _gpg(settings.CSAF_GNUPGHOME).sign(
        data,
        keyid=fingerprint,
        detach=True,
        passphrase=settings.CSAF_SIGNING_PASSPHRASE or None,
    )
    signature = str(result)
    if not signature.startswith("-----BEGIN PGP SIGNATURE-----"):
        raise SigningError(f"gpg did not sign: {result.status}")
    return signature


def public_key() -> str:
    """The signing key's public part, ASCII-armoured (what the provider publishes)."""
    fingerprint = signing_key()
    if fingerprint is None:
        raise SigningError("no CSAF signing key is configured")
    return str(_gpg(settings.CSAF_GNUPGHOME).export_keys(fingerprint))
