"""Referral of a case to a law-enforcement organisation, as a signed package."""

import contextlib
import hashlib
import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Organisation, OrganisationKind, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.request_context import current_ip
from bulwark.incidents import package
from bulwark.incidents.evidence import StoredFileMissing, open_stored, storage
from bulwark.incidents.models import CustodyEvent, Incident, Referral, TimelineEntry


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


@transaction.atomic
def refer(actor: User, incident: Incident, lea: Organisation, *, note: str = "") -> Referral:
    require(actor, "incident.refer", incident)
    if lea.kind != OrganisationKind.LEA:
        raise ValidationError(
            {"organisation": _("Cases are referred to law-enforcement organisations.")}
        )
    store = storage()
    evidence = list(incident.evidence.all())
    manifest = manifest_for(incident, lea, actor, note)
    with contextlib.ExitStack() as stack:
        try:
            files = [
                (e.sha256, stack.enter_context(open_stored(e.storage_name, _("evidence"))))
                for e in evidence
            ]
        except StoredFileMissing as exc:
            # A package without a piece of its evidence would mislead the investigators.
            raise ValidationError(str(exc)) from None
        data = package.build(manifest, files, signing_key())
    digest = hashlib.sha256(data).hexdigest()
    referral = Referral(
        incident=incident, organisation=lea, referred_by=actor, note=note, package_sha256=digest
    )
    if not store.exists(referral.storage_name):
        store.save(referral.storage_name, ContentFile(data))
    referral.save()
    for item in evidence:
        CustodyEvent.objects.create(
            evidence=item,
            actor=actor,
            action=CustodyEvent.Action.REFERRED,
            note=f"to {lea.name}",
            ip=current_ip(),
        )
    TimelineEntry.objects.create(
        incident=incident, author=actor, kind=TimelineEntry.Kind.EVENT,
        text=_("Referred to %(lea)s (package SHA-256 %(sha)s).") % {"lea": lea.name, "sha": digest},
    )  # fmt: skip
    audit.record(
        actor, "incident.referred", incident,
        changes={"to": lea.name, "package_sha256": digest, "evidence": len(evidence)},
        organisation_id=incident.organisation_id,
    )  # fmt: skip
    return referral


def package_bytes(actor: User, referral: Referral) -> bytes:
    """The signed package; raises StoredFileMissing (and logs nothing) when it is gone."""
    with open_stored(referral.storage_name, _("referral package")) as handle:
        data = bytes(handle.read())
    with transaction.atomic():
        audit.record(
            actor, "referral.downloaded", referral.incident,
            changes={"package_sha256": referral.package_sha256},
            organisation_id=referral.incident.organisation_id,
        )  # fmt: skip
    return data
