"""The only code that writes intelligence: one transaction and one audit entry per call."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from bulwark.constituency.access import Viewer, viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.core import audit, bulk
from bulwark.core import observables as obs
from bulwark.core.permissions import require
from bulwark.core.tlp import TLP
from bulwark.intel import ingest
from bulwark.intel.models import (
    Collection,
    Indicator,
    Sighting,
    Status,
    StixObject,
    Submission,
    TaxiiStatus,
    Value,
)


def submitting_organisation(viewer: Viewer, collection: Collection) -> int | None:
    if collection.organisation_id in viewer.own_org_ids:
        return collection.organisation_id
    if viewer.sees_everything:
        return min(viewer.own_org_ids) if viewer.own_org_ids else None
    return min(viewer.own_org_ids) if viewer.own_org_ids else None


@dataclass
class Shared:
    submission: Submission
    outcome: ingest.Outcome


def ingest_objects(
    actor: User | None,
    collection: Collection,
    objects: Sequence[Any],
    *,
    raw: str,
    format: str = Submission.Format.STIX,
    channel: str = "taxii",
    tlp: TLP | None = None,
    sharing_group_id: int | None = None,
    category_id: int | None = None,
    red_recipient_ids: Iterable[int] = (),
    extra_report: Sequence[dict[str, str]] = (),
) -> Shared:
    """Store STIX objects shared by `actor` (None: the platform itself, trusted)."""
    viewer = viewer_of(actor)
    trusted = actor is None or viewer.sees_everything
    if actor is not None:
        require(actor, "intel.write", collection)
    org_id = submitting_organisation(viewer, collection) if actor is not None else None
    needs_review = collection.requires_review and not trusted
    ctx = ingest.Context(
        collection=collection,
        user_id=actor.pk if actor is not None else None,
        organisation_id=org_id,
        trusted=trusted,
        status=Status.PENDING if needs_review else Status.PUBLISHED,
        sharing_group_id=sharing_group_id,
        category_id=category_id,
        tlp_override=tlp,
        red_recipient_ids=list(red_recipient_ids),
    )
    with bulk.checkpoint_later(), transaction.atomic():
        submission = Submission.objects.create(
            collection=collection,
            organisation_id=org_id,
            submitted_by=actor,
            format=format,
            channel=channel,
        )
        ctx.submission_id = submission.pk
        outcome = ingest.store(objects, ctx)
        # The raw text is written with the outcome, in the same transaction as the objects:
        # SQLite rewrites a whole row on update, and a 46 MB bundle written at the start
        # would be read and written again here (0.2 s of a 5 s store).
        submission.raw = raw
        submission.processed_at = timezone.now()
        submission.stored = outcome.stored
        submission.refused = len(outcome.failures) + len(extra_report)
        submission.report = [*extra_report, *outcome.failures]
        submission.save(update_fields=["raw", "processed_at", "stored", "refused", "report"])
        audit.record(
            actor,
            "intel.shared",
            submission,
            changes={
                "collection": str(collection.uuid),
                "format": format,
                "channel": channel,
                "stored": outcome.stored,
                "duplicates": outcome.duplicates,
                "refused": len(outcome.failures),
                "status": ctx.status,
            },
            organisation_id=org_id,
        )
    return Shared(submission, outcome)


def review(actor: User, pks: Iterable[int], *, publish: bool) -> int:
    """A CERT analyst publishes (or rejects) objects awaiting review."""
    require(actor, "intel.review")
    with transaction.atomic():
        rows = StixObject.objects.visible_to(actor).filter(pk__in=list(pks), status=Status.PENDING)
        ids = list(rows.values_list("pk", flat=True))
        changed = StixObject.objects.filter(pk__in=ids).update(
            status=Status.PUBLISHED if publish else Status.REJECTED
        )
        audit.record(
            actor,
            "intel.published" if publish else "intel.rejected",
            object_type="intel.stixobject",
            object_id=",".join(map(str, ids))[:200],
            changes={"count": changed},
        )
    return changed


def delete_versions(actor: User, collection: Collection, stix_id: str, versions: Any) -> int:
    """TAXII DELETE: the CERT, or the organisation that shared the object."""
    rows = StixObject.objects.visible_to(actor).filter(collection=collection, stix_id=stix_id)
    if versions is not None:
        rows = rows.filter(versions)
    require(actor, "intel.delete", rows)
    with transaction.atomic():
        ids = list(rows.values_list("pk", flat=True))
        _deleted, _detail = StixObject.objects.filter(pk__in=ids).delete()
        remaining = StixObject.objects.filter(collection=collection, stix_id=stix_id)
        last = remaining.order_by("-version").first()
        if last is not None and not last.is_latest:
            remaining.filter(pk=last.pk).update(is_latest=True)
        audit.record(
            actor,
            "intel.deleted",
            object_type="intel.stixobject",
            object_id=stix_id,
            changes={"collection": str(collection.uuid), "versions": len(ids)},
        )
    return len(ids)


def record_sighting(
    value: str,
    organisation: Organisation,
    count: int,
    first_seen: datetime,
    last_seen: datetime,
    source: str,
    false_positive: bool = False,
    *,
    kind: str | None = None,
    actor: User | None = None,
) -> Sighting:
    """Someone saw `value` (type detected unless `kind` is given). A false-positive
    sighting lowers the score of every indicator carrying the value."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if last_seen < first_seen:
        raise ValueError("last_seen is earlier than first_seen")
    if actor is not None:
        require(actor, "intel.report_sighting", organisation)
    found_kind, text = obs.normalise(kind or obs.detect(value), value)
    with transaction.atomic():
        value_id = ingest.ensure_values([(found_kind, text)])[(found_kind, text)]
        sighting = Sighting.objects.create(
            value_id=value_id,
            organisation=organisation,
            count=count,
            first_seen=first_seen,
            last_seen=last_seen,
            source=source[:200],
            false_positive=false_positive,
            recorded_by=actor,
        )
        updates: dict[str, Any] = {}
        if false_positive:
            updates["false_positive_count"] = F("false_positive_count") + 1
        else:
            updates["sighting_count"] = F("sighting_count") + count
        Value.objects.filter(pk=value_id).update(**updates)
        if not false_positive:
            Value.objects.filter(pk=value_id).exclude(last_sighted_at__gte=last_seen).update(
                last_sighted_at=last_seen
            )
        audit.record(
            actor,
            "intel.sighting",
            sighting,
            changes={
                "value": f"{found_kind}:{text}",
                "count": count,
                "false_positive": false_positive,
                "source": source[:200],
            },
            organisation_id=organisation.pk,
        )
    return sighting


@dataclass(frozen=True)
class SeenValue:
    """One value an organisation saw, for record_sightings."""

    kind: str
    value: str
    count: int
    first_seen: datetime
    last_seen: datetime


def record_sightings(organisation: Organisation, seen: Sequence[SeenValue], source: str) -> int:
    """Many machine-reported sightings of one organisation at once (the monitoring
    centre's hits): the same rows and decay effect as record_sighting for each, in a
    fixed number of queries per distinct value and one audit entry for the lot. Values
    that do not normalise are left out (returned count excludes them)."""
    normalised: list[tuple[tuple[str, str], SeenValue]] = []
    for item in seen:
        if item.count < 1 or item.last_seen < item.first_seen:
            continue
        try:
            normalised.append((obs.normalise(item.kind, item.value), item))
        except (ValidationError, ValueError, TypeError):
            continue
    if not normalised:
        return 0
    with transaction.atomic():
        ids = ingest.ensure_values(key for key, _ in normalised)
        adapt = connection.ops.adapt_datetimefield_value
        recorded_at = adapt(timezone.now())
        bulk.insert_rows(  # one statement, without the ORM's work per row
            Sighting._meta.db_table,
            ["value_id", "organisation_id", "count", "first_seen", "last_seen", "source",
             "false_positive", "recorded_at", "recorded_by_id"],
            [
                (ids[key], organisation.pk, item.count, adapt(item.first_seen),
                 adapt(item.last_seen), source[:200], False, recorded_at, None)
                for key, item in normalised
            ],
        )  # fmt: skip
        totals: dict[int, tuple[int, datetime]] = {}
        for key, item in normalised:
            count, last = totals.get(ids[key], (0, item.last_seen))
            totals[ids[key]] = (count + item.count, max(last, item.last_seen))
        # One statement, sent for all values at once (psycopg pipelines executemany).
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Value._meta.db_table} SET sighting_count = sighting_count + %s, "  # noqa: S608 (model's table)
                "last_sighted_at = CASE WHEN last_sighted_at IS NULL OR last_sighted_at < %s "
                "THEN %s ELSE last_sighted_at END WHERE id = %s",
                [
                    (count, adapt(last), adapt(last), value_id)
                    for value_id, (count, last) in sorted(totals.items())
                ],
            )
        audit.record(
            None,
            "intel.sightings",
            None,
            changes={
                "values": [f"{kind}:{text}" for (kind, text), _ in normalised[:100]],
                "total": len(normalised),
                "count": sum(item.count for _, item in normalised),
                "source": source[:200],
            },
            organisation_id=organisation.pk,
        )
    return len(normalised)


@dataclass(frozen=True)
class MispSighting:
    """A sighting carried in a MISP event's attribute."""

    value: str
    kind: str
    moment: datetime
    source: str
    false_positive: bool


def import_misp_event(
    actor: User | None,
    collection: Collection,
    objects: Sequence[Any],
    *,
    raw: str,
    report: Sequence[dict[str, str]],
    not_for_detection: Iterable[str],
    warnings: Sequence[dict[str, str]],
    sightings: Sequence[MispSighting],
    organisation: Organisation | None = None,
    channel: str = "upload",
) -> Shared:
    """One MISP event (converted by `intel.misp`) in one transaction: its STIX objects
    stored and audited as a share, the attributes MISP marks as not for detection kept out
    of detection exports, warning-list hits and uncarried sightings named in the
    submission's report, its sightings recorded for `organisation` (else the submitting
    one)."""
    with transaction.atomic():
        shared = ingest_objects(
            actor,
            collection,
            objects,
            raw=raw,
            format=Submission.Format.MISP,
            channel=channel,
            extra_report=report,
        )
        if not_for_detection:
            Indicator.objects.filter(
                stix_object__collection=collection,
                stix_object__stix_id__in=sorted(not_for_detection),
            ).update(detect=False)
        shared.submission.report.extend(warnings)
        org_id = shared.submission.organisation_id
        sighting_org = organisation or (Organisation.objects.get(pk=org_id) if org_id else None)
        for seen in sightings:
            if sighting_org is None:
                shared.submission.report.append(
                    {
                        "id": seen.value,
                        "message": "sighting not carried: no organisation to hold it",
                    }
                )
                continue
            record_sighting(
                seen.value, sighting_org, 1, seen.moment, seen.moment, seen.source,
                false_positive=seen.false_positive, kind=seen.kind, actor=actor,
            )  # fmt: skip
        shared.submission.save(update_fields=["report"])
    return shared


def record_taxii_status(
    actor: User,
    collection: Collection,
    shared: Shared,
    *,
    requested: datetime,
    total: int,
) -> TaxiiStatus:
    """The TAXII server's status record of one add-objects request (what a client polls);
    the share itself is audited by `ingest_objects`."""
    out = shared.outcome
    return TaxiiStatus.objects.create(
        collection=collection,
        submission=shared.submission,
        user=actor,
        organisation_id=shared.submission.organisation_id,
        status="complete",
        request_timestamp=requested,
        total_count=total,
        success_count=len(out.successes),
        successes=out.successes,
        failure_count=len(out.failures),
        failures=out.failures,
    )
