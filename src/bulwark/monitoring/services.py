"""The only writers of monitoring records: storing hits as sightings, raising alerts,
promoting an alert to an incident, marking a false positive. One transaction and one
audit entry each."""

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Membership, Organisation, Role, User
from bulwark.core import audit, bulk
from bulwark.core.models import NotificationKind
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.core.tasks import send_email
from bulwark.incidents import services as incident_services
from bulwark.incidents.indicators import KINDS
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.monitoring.models import (
    Alert,
    AlertRule,
    DetectionRun,
    FirstSeen,
    LogSighting,
    Suppression,
)

log = logging.getLogger(__name__)
Key = tuple[str, str, datetime]  # (type, indicator, hour)


def _when(value: Any) -> datetime:
    """A hit's log timestamp (Zeek epoch seconds, ISO 8601) or now when it has none."""
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return timezone.now()
    if isinstance(value, str) and value:
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return timezone.now()
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return timezone.now()


def aggregate(hits: Iterable[Mapping[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Hits (engine NDJSON records) -> per (type, indicator, hour): count, first/last."""
    out: dict[Key, dict[str, Any]] = {}
    for hit in hits:
        seen = _when(hit.get("ts"))
        key = (
            str(hit["type"]),
            str(hit["indicator"]),
            seen.replace(minute=0, second=0, microsecond=0),
        )
        row = out.get(key)
        if row is None:
            out[key] = {
                "count": 1, "first": seen, "last": seen, "field": str(hit.get("field") or ""),
                "ref": str(hit.get("indicator_id") or ""), "score": hit.get("score"),
            }  # fmt: skip
        else:
            row["count"] += 1
            row["first"] = min(row["first"], seen)
            row["last"] = max(row["last"], seen)
    return out


@transaction.atomic
def record_hits(
    organisation: Organisation, hits: Iterable[Mapping[str, Any]], *, source: str = "monitor"
) -> dict[str, int]:
    """Store hits of one agency's logs as sightings and raise alerts. Idempotence is the
    caller's (the stream worker acknowledges a batch only after this commits)."""
    rows = aggregate(hits)
    if not rows:
        return {"hits": 0, "sightings": 0, "alerts": 0}
    try:
        with transaction.atomic():
            touched = _store_sightings(organisation, rows)
    except IntegrityError:  # another worker created one of the rows meanwhile
        touched = [_store_sighting(organisation, key, row) for key, row in rows.items()]
    alerts = _raise_alerts(touched, rows)
    _feed_intel(organisation, rows, source)
    audit.record(
        None, "monitoring.sightings_recorded", None,
        changes={"hits": sum(r["count"] for r in rows.values()), "sightings": len(rows),
                 "alerts": alerts},
        organisation_id=organisation.pk, object_type=LogSighting._meta.label_lower,
    )  # fmt: skip
    return {
        "hits": sum(r["count"] for r in rows.values()),
        "sightings": len(rows),
        "alerts": alerts,
    }


def _store_sightings(
    organisation: Organisation, rows: Mapping[Key, Mapping[str, Any]]
) -> list[LogSighting]:
    """All rows at once: the existing sightings locked and read in one query, the new
    ones inserted in one statement (COPY on PostgreSQL), the existing ones counted up in
    one batch (psycopg pipelines the statements: one round trip). A stream worker stores
    a hundred sightings per group; through the ORM that took about 0.25 ms a sighting."""
    existing = {
        (s.indicator_type, s.indicator, s.hour): s
        for s in LogSighting.objects.select_for_update().filter(
            organisation=organisation,
            indicator__in={value for _, value, _ in rows},
            hour__in={hour for _, _, hour in rows},
        )
    }
    fresh = [
        LogSighting(
            organisation=organisation, indicator_type=itype, indicator=value, hour=hour,
            count=row["count"], first_seen=row["first"], last_seen=row["last"],
            last_field=row["field"][:100], indicator_ref=row["ref"][:100], score=row["score"],
        )
        for (itype, value, hour), row in rows.items()
        if (itype, value, hour) not in existing
    ]  # fmt: skip
    adapt = connection.ops.adapt_datetimefield_value
    bulk.insert_rows(
        LogSighting._meta.db_table,
        ["organisation_id", "indicator_type", "indicator", "indicator_ref", "score", "hour",
         "count", "first_seen", "last_seen", "last_field"],
        [
            (s.organisation_id, s.indicator_type, s.indicator, s.indicator_ref, s.score,
             adapt(s.hour), s.count, adapt(s.first_seen), adapt(s.last_seen), s.last_field)
            for s in fresh
        ],
    )  # fmt: skip
    counted = [_count_up(sighting, rows[key]) for key, sighting in existing.items() if key in rows]
    if counted:
        with connection.cursor() as cursor:  # the rows are locked: plain values are safe
            cursor.executemany(
                f"UPDATE {LogSighting._meta.db_table} SET count = %s, first_seen = %s, "  # noqa: S608 (model's table)
                "last_seen = %s WHERE id = %s",
                [(s.count, adapt(s.first_seen), adapt(s.last_seen), s.pk) for s in counted],
            )
    return fresh + counted


def _count_up(sighting: LogSighting, row: Mapping[str, Any]) -> LogSighting:
    """Add a row to a locked sighting, in memory (the caller writes it)."""
    sighting.count += row["count"]
    sighting.first_seen = min(sighting.first_seen, row["first"])
    sighting.last_seen = max(sighting.last_seen, row["last"])
    return sighting


def _store_sighting(organisation: Organisation, key: Key, row: Mapping[str, Any]) -> LogSighting:
    itype, value, hour = key
    sighting: LogSighting
    sighting, created = LogSighting.objects.select_for_update().get_or_create(
        organisation=organisation, indicator_type=itype, indicator=value, hour=hour,
        defaults={
            "count": row["count"], "first_seen": row["first"], "last_seen": row["last"],
            "last_field": row["field"][:100], "indicator_ref": row["ref"][:100],
            "score": row["score"],
        },
    )  # fmt: skip
    if created:
        return sighting
    _count_up(sighting, row)
    sighting.save(update_fields=["count", "first_seen", "last_seen"])  # locked above
    return sighting


def _raise_alerts(sightings: list[LogSighting], rows: Mapping[Key, Mapping[str, Any]]) -> int:
    rules = list(AlertRule.objects.filter(enabled=True))
    raised = 0
    for sighting in sightings:
        row = rows[(sighting.indicator_type, sighting.indicator, sighting.hour)]
        rule = next((r for r in rules if r.matches(sighting)), None)
        if rule is None:
            continue
        if Suppression.objects.filter(
            organisation_id=sighting.organisation_id,
            indicator_type=sighting.indicator_type,
            indicator=sighting.indicator,
        ).exists():
            continue
        open_alert = Alert.objects.filter(
            organisation_id=sighting.organisation_id, indicator_type=sighting.indicator_type,
            indicator=sighting.indicator, status=Alert.Status.NEW,
        ).first()  # fmt: skip
        if open_alert is not None:
            Alert.objects.filter(pk=open_alert.pk).update(
                count=F("count") + row["count"], last_seen=max(open_alert.last_seen, row["last"])
            )
            continue
        Alert.objects.create(
            organisation_id=sighting.organisation_id, indicator_type=sighting.indicator_type,
            indicator=sighting.indicator, indicator_ref=sighting.indicator_ref,
            score=sighting.score, rule=rule, count=row["count"], first_seen=row["first"],
            last_seen=row["last"],
        )  # fmt: skip
        raised += 1
    return raised


def _feed_intel(
    organisation: Organisation, rows: Mapping[Key, Mapping[str, Any]], source: str
) -> None:
    """The intelligence store's sightings (they refresh an indicator's decay), all rows in
    one bulk write."""
    try:
        from bulwark.intel.services import SeenValue, record_sightings
    except ImportError:
        return
    seen = [
        SeenValue(itype, value, row["count"], row["first"], row["last"])
        for (itype, value, _hour), row in rows.items()
    ]
    try:
        with transaction.atomic():
            record_sightings(organisation, seen, source)
    except (ValidationError, ValueError, TypeError) as exc:
        log.info("intel sightings not recorded: %s", exc)


@transaction.atomic
def promote_alert(actor: User, alert: Alert, *, note: str = "") -> Incident:
    """Open an incident for the alert's agency with the indicator attached, and tell the
    agency (in the app and by e-mail), as incidents reported by the CERT are."""
    require(actor, "monitoring.triage", alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != Alert.Status.NEW:
        raise ValidationError(_("This alert has already been triaged."))
    title = _("Contact with known-bad %(type)s %(value)s") % {
        "type": alert.indicator_type,
        "value": alert.indicator[:200],
    }
    description = _(
        "National monitoring saw %(count)s contact(s) with %(value)s in this agency's logs "
        "between %(first)s and %(last)s (UTC)."
    ) % {
        "count": alert.count,
        "value": alert.indicator,
        "first": f"{alert.first_seen:%Y-%m-%d %H:%M}",
        "last": f"{alert.last_seen:%Y-%m-%d %H:%M}",
    }
    if alert.detector:
        destination = alert.indicator.partition(":")[2]
        title = _("Abnormal activity (%(detector)s) towards %(destination)s") % {
            "detector": alert.detector,
            "destination": destination[:150],
        }
        description = _(
            "National monitoring's behavioural detection (%(detector)s, score %(score)s) saw "
            "%(sources)s in this agency talk to %(destination)s between %(first)s and "
            "%(last)s (UTC). Evidence: %(evidence)s"
        ) % {
            "detector": alert.detector,
            "score": alert.score,
            "sources": ", ".join(alert.evidence.get("sources", []))[:500],
            "destination": destination,
            "first": f"{alert.first_seen:%Y-%m-%d %H:%M}",
            "last": f"{alert.last_seen:%Y-%m-%d %H:%M}",
            "evidence": _evidence_summary(alert.evidence),
        }
    indicators = [(alert.indicator_type, alert.indicator)] if alert.indicator_type in KINDS else []
    incident = incident_services.report_incident(
        actor,
        alert.organisation,
        title=title[:200],
        description=description + (f"\n\n{note}" if note else ""),
        rsit_class="malicious-code",
        rsit_type="infected-system",
        # The agency learns of it now, from the CERT: its notification clock starts here,
        # not at the first sighting (which made every promoted alert a late notification).
        aware_at=timezone.now(),
        answers=Answers(),
        indicators=indicators,
    )
    alert.status = Alert.Status.PROMOTED
    alert.incident = incident
    alert.triaged_by = actor
    alert.triaged_at = timezone.now()
    alert.note = note
    alert.save()
    _notify_agency(incident)
    audit.record(
        actor, "monitoring.alert_promoted", alert,
        changes={"incident": incident.reference}, organisation_id=alert.organisation_id,
    )  # fmt: skip
    return incident


def _notify_agency(incident: Incident) -> None:
    ids = Membership.objects.filter(
        organisation_id=incident.organisation_id,
        role__in=[Role.REPORTER, Role.ORG_ADMIN],
        user__is_active=True,
    ).values_list("user_id", flat=True)
    people = [
        u for u in User.objects.filter(pk__in=ids)
        if Incident.objects.visible_to(u).filter(pk=incident.pk).exists()
    ]  # fmt: skip
    text = _("The national CERT opened %(ref)s for your organisation: %(title)s") % {
        "ref": incident.reference, "title": incident.title,
    }  # fmt: skip
    url = reverse("incident-detail", args=[incident.pk])
    notify(people, NotificationKind.INCIDENT_OPENED, text, url, subject=f"incident:{incident.pk}")
    emails = sorted({u.email for u in people if u.email})
    if emails:
        body = f"{text}\n\n{settings.SITE_URL}{url}\n"
        transaction.on_commit(lambda: send_email.enqueue(text, body, emails))


@transaction.atomic
def mark_false_positive(actor: User, alert: Alert, *, reason: str = "") -> Suppression:
    """Close the alert and suppress the indicator for that agency (other agencies still
    get alerts). The intelligence store learns of the false positive."""
    require(actor, "monitoring.triage", alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != Alert.Status.NEW:
        raise ValidationError(_("This alert has already been triaged."))
    alert.status = Alert.Status.FALSE_POSITIVE
    alert.triaged_by = actor
    alert.triaged_at = timezone.now()
    alert.note = reason
    alert.save()
    suppression, _created = Suppression.objects.get_or_create(
        organisation_id=alert.organisation_id, indicator_type=alert.indicator_type,
        indicator=alert.indicator, defaults={"reason": reason, "created_by": actor},
    )  # fmt: skip
    try:
        from bulwark.intel.services import record_sighting
    except ImportError:
        record_sighting = None  # type: ignore[assignment]
    if record_sighting is not None:
        try:
            with transaction.atomic():
                record_sighting(
                    alert.indicator, alert.organisation, 1, alert.first_seen, alert.last_seen,
                    "monitoring", True, kind=alert.indicator_type,
                )  # fmt: skip
        except (ValidationError, ValueError, TypeError) as exc:
            log.info("intel false positive not recorded for %s: %s", alert.indicator, exc)
    audit.record(
        actor, "monitoring.alert_false_positive", alert,
        changes={"reason": reason[:200]}, organisation_id=alert.organisation_id,
    )  # fmt: skip
    return suppression


def _evidence_summary(evidence: Mapping[str, Any]) -> str:
    keep = ("connections", "interval", "longest_seconds", "unique_subdomains", "burst",
            "addresses", "ports", "kind", "prevalence")  # fmt: skip
    return "; ".join(f"{k} {evidence[k]}" for k in keep if k in evidence)[:1500]


def _rule_for(rules: list[AlertRule], organisation_id: int, score: int) -> AlertRule | None:
    for rule in rules:
        types = {t.strip() for t in rule.indicator_types.split(",") if t.strip()}
        if types and "behaviour" not in types:
            continue
        if rule.organisation_id is not None and rule.organisation_id != organisation_id:
            continue
        if rule.min_score is not None and score < rule.min_score:
            continue
        return rule
    return None


@transaction.atomic
def record_findings(
    findings: Iterable[Any],
    organisations: Mapping[str, Organisation],
    run: DetectionRun | None = None,
) -> int:
    """Behavioural findings (engine/behaviour Finding) as alerts of their agency: an
    enabled rule must match ("behaviour" among its types, or none; its minimum score on
    the 0-100 scale), the agency's false-positive marks (suppressions of type behaviour,
    `detector:destination`, a domain also covering its sub-domains, a network its
    addresses) drop a finding, and an open alert for the same detector and destination
    is updated instead of raising another. Returns the alerts raised."""
    from bulwark.monitoring.engine.behaviour import AllowList

    rules = list(AlertRule.objects.filter(enabled=True))
    allow: dict[int, AllowList] = {}
    raised = 0
    for finding in findings:
        organisation = organisations.get(finding.agency or "")
        if organisation is None:
            continue
        if organisation.pk not in allow:
            allow[organisation.pk] = AllowList.parse(
                list(
                    Suppression.objects.filter(
                        organisation=organisation, indicator_type="behaviour"
                    ).values_list("indicator", flat=True)
                )
            )
        if allow[organisation.pk].allows(finding.detector, finding.destination):
            continue
        score = round(finding.score * 100)
        rule = _rule_for(rules, organisation.pk, score)
        if rule is None:
            continue
        indicator = f"{finding.detector}:{finding.destination}"[:2048]
        first = datetime.fromtimestamp(finding.first_seen or time_now(), UTC)
        last = datetime.fromtimestamp(finding.last_seen or time_now(), UTC)
        evidence = dict(finding.evidence)
        open_alert = (
            Alert.objects.select_for_update()
            .filter(
                organisation=organisation, indicator_type="behaviour", indicator=indicator,
                status=Alert.Status.NEW,
            )
            .first()
        )  # fmt: skip
        if open_alert is not None:
            sources = list(open_alert.evidence.get("sources", []))
            if finding.source not in sources:
                sources.append(finding.source)
            evidence["sources"] = sources[:50]
            evidence["lines"] = finding.lines
            if score >= (open_alert.score or 0):
                open_alert.evidence = evidence
                open_alert.score = score
            else:
                open_alert.evidence["sources"] = sources[:50]
            open_alert.count += 1
            open_alert.first_seen = min(open_alert.first_seen, first)
            open_alert.last_seen = max(open_alert.last_seen, last)
            open_alert.save()
            continue
        evidence["sources"] = [finding.source]
        evidence["lines"] = finding.lines
        Alert.objects.create(
            organisation=organisation, indicator_type="behaviour", indicator=indicator,
            indicator_ref=f"detector:{finding.detector}", score=score, rule=rule, count=1,
            first_seen=first, last_seen=last, detector=finding.detector, evidence=evidence,
        )  # fmt: skip
        raised += 1
    if run is not None:
        run.alerts = raised
        run.finished_at = timezone.now()
        run.save()
    return raised


def time_now() -> float:
    return timezone.now().timestamp()


def start_detection_run(window_hours: int) -> DetectionRun:
    return DetectionRun.objects.create(started_at=timezone.now(), window_hours=window_hours)


def remember_first_seen(observed: Mapping[str, float], known: Mapping[str, float]) -> int:
    """Add the values seen for the first time nationally (`kind:value` -> time) to the
    history; values already there keep their first time. Returns how many were new."""
    rows = []
    for key, stamp in observed.items():
        if key in known:
            continue
        kind, _sep, value = key.partition(":")
        if len(value) > 500:
            continue
        rows.append(
            FirstSeen(kind=kind, value=value, first_seen=datetime.fromtimestamp(stamp, UTC))
        )
    FirstSeen.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)
