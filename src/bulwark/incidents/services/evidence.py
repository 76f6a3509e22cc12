"""Evidence and its chain of custody: each function checks the actor's right, writes in
one transaction with one custody event and one audit entry (the files themselves are
stored and read by `incidents.evidence`)."""

import hashlib
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.permissions import can, require
from bulwark.core.request_context import current_ip
from bulwark.incidents.evidence import (
    CHUNK,
    StoredFileMissing,
    display_name,
    hash_upload,
    open_stored,
    storage,
)
from bulwark.incidents.models import CustodyEvent, Evidence, Incident, TimelineEntry


@transaction.atomic
def add_evidence(
    actor: User, incident: Incident, upload: Any, *, description: str = ""
) -> Evidence:
    require(
        actor,
        "incident.handle",
        incident,
        refusal=_("You are not allowed to add evidence to this incident."),
    )
    if incident.status == "closed":
        raise ValidationError({"file": _("The case is closed.")})
    sha256, size = hash_upload(upload, settings.MAX_EVIDENCE_BYTES)
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    evidence = Evidence(
        incident=incident,
        sha256=sha256,
        size=size,
        original_name=display_name(getattr(upload, "name", "") or ""),
        content_type=(getattr(upload, "content_type", "") or "")[:100],
        description=description[:500],
        uploaded_by=actor,
    )
    store = storage()
    if not store.exists(evidence.storage_name):  # the same content is stored once
        saved = store.save(evidence.storage_name, upload)
        if saved != evidence.storage_name:  # a concurrent upload of the same bytes won
            store.delete(saved)
    evidence.save()
    CustodyEvent.objects.create(
        evidence=evidence, actor=actor, action=CustodyEvent.Action.UPLOADED, ip=current_ip()
    )
    # Uploads belong on the case's timeline with everything else that happened.
    TimelineEntry.objects.create(
        incident=incident,
        author=actor,
        kind=TimelineEntry.Kind.EVIDENCE,
        text=_("Evidence uploaded: %(name)s (%(size)s bytes, SHA-256 %(sha)s)")
        % {"name": evidence.original_name, "size": size, "sha": sha256},
    )
    audit.record(
        actor, "evidence.added", evidence,
        changes={
            "incident": incident.reference, "sha256": sha256, "size": size,
            "name": evidence.original_name,
        },
        organisation_id=incident.organisation_id,
    )  # fmt: skip
    return evidence


def open_for_download(actor: User, evidence: Evidence) -> IO[bytes]:
    """Open the stored bytes, after checking they still match the hash; logs custody.
    Raises StoredFileMissing (and logs nothing) when the file is gone."""
    handle = open_stored(evidence.storage_name, _("evidence"))
    with transaction.atomic():
        CustodyEvent.objects.create(
            evidence=evidence, actor=actor, action=CustodyEvent.Action.DOWNLOADED, ip=current_ip()
        )
        audit.record(
            actor, "evidence.downloaded", evidence,
            changes={"sha256": evidence.sha256}, organisation_id=evidence.incident.organisation_id,
        )  # fmt: skip
    return handle


def verify(actor: User, evidence: Evidence) -> bool:
    """Recompute the stored file's hash; records the check in the custody log."""
    digest = hashlib.sha256()
    try:
        with open_stored(evidence.storage_name, _("evidence")) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        intact = digest.hexdigest() == evidence.sha256
        note = _("hash matches") if intact else _("HASH MISMATCH: the stored file changed")
    except StoredFileMissing:
        intact, note = False, _("FILE MISSING: the stored file is gone")
    with transaction.atomic():
        CustodyEvent.objects.create(
            evidence=evidence,
            actor=actor,
            action=CustodyEvent.Action.VERIFIED,
            note=note,
            ip=current_ip(),
        )
        audit.record(
            actor,
            "evidence.verified",
            evidence,
            changes={"intact": intact},
            organisation_id=evidence.incident.organisation_id,
        )
    return intact


@transaction.atomic
def hand_over(actor: User, evidence: Evidence, *, to: str, note: str = "") -> CustodyEvent:
    if not can(actor, "incident.handle", evidence.incident):
        raise PermissionDenied
    if not to.strip():
        raise ValidationError({"to": _("Name who receives the evidence.")})
    event = CustodyEvent.objects.create(
        evidence=evidence, actor=actor, action=CustodyEvent.Action.HANDED_OVER,
        note=f"{to.strip()[:200]}: {note.strip()}"[:500], ip=current_ip(),
    )  # fmt: skip
    audit.record(
        actor,
        "evidence.handed_over",
        evidence,
        changes={"to": to},
        organisation_id=evidence.incident.organisation_id,
    )
    return event
