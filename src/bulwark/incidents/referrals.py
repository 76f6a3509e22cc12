"""Referral of a case to a law-enforcement organisation, as a signed package."""

import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.utils import timezone

from bulwark.constituency.models import Organisation, User
from bulwark.incidents.models import Incident


def signing_key() -> Ed25519PrivateKey:
    """The platform's referral signing key; created (mode 0600) on first use."""
    path = settings.SIGNING_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def manifest_for(incident: Incident, lea: Organisation, actor: User, note: str) -> dict[str, Any]:
    fields = [
        "reference", "title", "description", "status", "level", "rsit_class", "rsit_type", "tlp",
        "is_drill", "profile",
    ]  # fmt: skip
    record = {f: getattr(incident, f) for f in fields}
    record |= {
        "organisation": incident.organisation.name,
        "aware_at": _iso(incident.aware_at),
        "reported_at": _iso(incident.reported_at),
        "reviewed_at": _iso(incident.reviewed_at),
        "recovered_at": _iso(incident.recovered_at),
    }
    evidence = list(incident.evidence.select_related("uploaded_by"))
    return {
        "incident": record,
        "referred_to": lea.name,
        "referred_by": actor.get_username(),
        "referred_at": timezone.now().isoformat(),
        "note": note,
        "timeline": [
            {"at": _iso(e.at), "kind": e.kind, "author": str(e.author or ""), "text": e.text}
            for e in incident.timeline.select_related("author")
        ],
        "levels": [
            {"level": c.level, "at": _iso(c.at), "reason": c.reason}
            for c in incident.level_changes.all()
        ],
        "evidence": [
            {
                "name": e.original_name,
                "sha256": e.sha256,
                "size": e.size,
                "uploaded_at": _iso(e.uploaded_at),
                "uploaded_by": e.uploaded_by.get_username(),
                "custody": [
                    {"at": _iso(c.at), "action": c.action, "by": str(c.actor), "note": c.note}
                    for c in e.custody.select_related("actor")
                ],
            }
            for e in evidence
        ],
    }
