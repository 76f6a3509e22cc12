"""Outbound credentials at rest: a foreign CERT's TAXII password or bearer token must be
sent in clear to its server, so it cannot be hashed like our own API tokens. It is sealed
with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from SECRET_KEY with HKDF, so
a copy of the database alone does not reveal it. Rotating SECRET_KEY makes sealed
credentials unreadable: delivery then fails with a message asking to enter them again.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_PURPOSE = b"bulwark.exchange.outbound-credential.v1"


class Unreadable(Exception):
    """The sealed credential was sealed under another key (or tampered with)."""


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        raise Unreadable from None
