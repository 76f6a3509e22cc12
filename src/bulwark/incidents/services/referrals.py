"""Referral of a case to a law-enforcement organisation: the signed package built and
stored, the custody of each piece of evidence, the timeline and the audit entry in one
transaction (`incidents.referrals` builds the manifest and holds the signing key)."""

import contextlib
import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from bulwark.constituency.models import Organisation, OrganisationKind, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.request_context import current_ip
from bulwark.incidents import package
from bulwark.incidents.evidence import StoredFileMissing, open_stored, storage
from bulwark.incidents.models import CustodyEvent, Incident, Referral, TimelineEntry
from bulwark.incidents.referrals import manifest_for, signing_key


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
