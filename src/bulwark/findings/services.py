"""Every write of the findings app: engagements, scan imports with their deduplication,
manual findings, the remediation workflow, risk acceptance, false positives, checklists.

Each verb checks its rule (`findings.*` in rules.py), runs in one transaction and writes
one audit entry. An import keeps the raw file first (its own transaction), then parses and
stores everything in a second one: a file the engine refuses (`ParseError`) leaves no
finding behind, and the import row says why it was refused.
"""

import hashlib
import json
import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import connection, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Membership, Organisation, OrganisationKind, Role, User
from bulwark.core import audit
from bulwark.core.bulk import collector_paused, insert_rows
from bulwark.core.models import NotificationKind
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.findings import deadlines, engine
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    RESOLVED_STATUSES,
    Checklist,
    ChecklistItem,
    DedupeDecision,
    DedupeOutcome,
    Engagement,
    EngagementKind,
    EngagementStatus,
    EventKind,
    Finding,
    FindingCve,
    FindingStatus,
    RemediationEvent,
    RiskAcceptance,
    RiskAcceptanceState,
    ScanImport,
    ScanImportState,
    Severity,
)

CHUNK = 1024 * 1024
BATCH = 2000
# A scan file can be large (a Nessus file of 100,000 findings is ~300 MB).
MAX_SCAN_BYTES = 2 * 1024 * 1024 * 1024
MAX_EVIDENCE_BYTES = 50 * 1024 * 1024

# The statuses a finding keeps when it is seen again: a decision already taken.
KEPT_WHEN_SEEN = (FindingStatus.RISK_ACCEPTED, FindingStatus.FALSE_POSITIVE)

ENGAGEMENT_FLOW: dict[str, tuple[str, ...]] = {
    EngagementStatus.PLANNED: (EngagementStatus.IN_PROGRESS, EngagementStatus.CANCELLED),
    EngagementStatus.IN_PROGRESS: (EngagementStatus.REPORTING, EngagementStatus.CANCELLED),
    EngagementStatus.REPORTING: (EngagementStatus.DELIVERED, EngagementStatus.IN_PROGRESS),
    EngagementStatus.DELIVERED: (EngagementStatus.CLOSED,),
    EngagementStatus.CLOSED: (),
    EngagementStatus.CANCELLED: (),
}


# --- Files ------------------------------------------------------------------------------
def storage() -> FileSystemStorage:
    return FileSystemStorage(
        location=Path(settings.MEDIA_ROOT) / "findings", file_permissions_mode=0o440
    )


def display_name(raw: str) -> str:
    """The uploader's name, for display only: last path part, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return (name or "unnamed")[:255]


def keep_file(upload: IO[bytes], limit: int) -> tuple[str, int]:
    """Store `upload` under its SHA-256 (once) and return (sha256, size)."""
    digest, size = hashlib.sha256(), 0
    upload.seek(0)
    while chunk := upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ValidationError(
                {"file": _("The file is larger than %(n)d bytes.") % {"n": limit}}
            )
        digest.update(chunk)
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    sha = digest.hexdigest()
    name = f"{sha[:2]}/{sha}"
    store = storage()
    if not store.exists(name):
        upload.seek(0)
        store.save(name, upload)
    upload.seek(0)
    return sha, size


def open_kept(sha256: str) -> IO[bytes]:
    kept: IO[bytes] = storage().open(f"{sha256[:2]}/{sha256}", "rb")
    return kept


# --- Rows written without the ORM (an import's bulk) ------------------------------------
_FINDING_FIELDS = [f for f in Finding._meta.concrete_fields if not f.primary_key]
_FINDING_COLUMNS = [str(f.column) for f in _FINDING_FIELDS]
_DATETIME = {i for i, f in enumerate(_FINDING_FIELDS) if f.get_internal_type() == "DateTimeField"}
_JSON = {i for i, f in enumerate(_FINDING_FIELDS) if f.get_internal_type() == "JSONField"}


# What deduplication reads of a stored finding: not its texts (description, tool output
# up to 8 KiB), which made a re-import of 100,000 findings read them all.
_CANDIDATE_FIELDS = (
    "pk", "fingerprint", "status", "last_seen", "assignee_id", "severity", "reopened_count",
)  # fmt: skip
# A new finding's values that an import does not set (the model's defaults).
_FINDING_DEFAULTS: dict[str, Any] = {
    f.attname: (f.get_default() if f.has_default() else None) for f in _FINDING_FIELDS
}
_FINDING_DEFAULTS.update(false_positive_reason="", reopened_count=0, kev=False)
SEVERITIES = frozenset(Severity.values)
# (finding id, outcome, previous status, candidates, reason)
_Decision = tuple[int, str, str, list[dict[str, Any]], str]


def _row(values: dict[str, Any]) -> tuple[Any, ...]:
    """A new finding's column values in the database's form."""
    adapt = connection.ops.adapt_datetimefield_value
    row: list[Any] = []
    for i, f in enumerate(_FINDING_FIELDS):
        value = values[f.attname]
        if i in _DATETIME:
            value = adapt(value)
        elif i in _JSON:
            value = json.dumps(value)
        row.append(value)
    return tuple(row)


def _insert_decisions(scan_id: int, decisions: list[_Decision], at: datetime) -> None:
    when = connection.ops.adapt_datetimefield_value(at)
    insert_rows(
        DedupeDecision._meta.db_table,
        ("scan_id", "finding_id", "outcome", "previous_status", "candidates", "reason", "at"),
        [
            (scan_id, finding_id, outcome, previous, json.dumps(listed), reason, when)
            for finding_id, outcome, previous, listed, reason in decisions
        ],
    )


# --- Engagements ------------------------------------------------------------------------
def create_engagement(
    actor: User,
    organisation: Organisation,
    *,
    kind: str,
    title: str,
    scope: str = "",
    starts_on: date | None = None,
    ends_on: date | None = None,
    lead: User | None = None,
    team: Iterable[User] = (),
    scope_items: Iterable[InventoryItem] = (),
    deadline_profile: str = deadlines.DEFAULT_PROFILE,
) -> Engagement:
    require(actor, "findings.plan", organisation)
    if kind not in EngagementKind.values:
        raise ValidationError({"kind": _("Unknown kind of engagement.")})
    if deadline_profile not in deadlines.profiles():
        raise ValidationError({"deadline_profile": _("Unknown deadline profile.")})
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError({"ends_on": _("The end is before the start.")})
    items = list(scope_items)
    if any(item.organisation_id != organisation.pk for item in items):
        raise ValidationError(
            {"scope_items": _("Products in scope come from this agency's inventory.")}
        )
    with transaction.atomic():
        engagement = Engagement.objects.create(
            organisation=organisation,
            kind=kind,
            title=title.strip()[:200],
            scope=scope.strip(),
            starts_on=starts_on,
            ends_on=ends_on,
            lead=lead,
            deadline_profile=deadline_profile,
            created_by=actor,
        )
        engagement.team.set(list(team))
        engagement.scope_items.set(items)
        audit.record(
            actor,
            "findings.engagement_created",
            engagement,
            organisation_id=organisation.pk,
            changes={"kind": kind, "title": engagement.title},
        )
    return engagement


def change_engagement_status(
    actor: User, engagement: Engagement, status: str, note: str = ""
) -> Engagement:
    """Move an engagement along planned -> in progress -> reporting -> report delivered ->
    closed (or cancelled before delivery)."""
    require(actor, "findings.plan", engagement)
    with transaction.atomic():
        current = Engagement.objects.select_for_update().get(pk=engagement.pk)
        if status not in ENGAGEMENT_FLOW.get(current.status, ()):
            raise ValidationError(
                {
                    "status": _("An engagement cannot go from %(a)s to %(b)s.")
                    % {"a": current.get_status_display(), "b": status}
                }
            )
        previous = current.status
        current.status = status
        fields = ["status"]
        if status == EngagementStatus.DELIVERED:
            current.report_delivered_at = timezone.now()
            current.report_note = note.strip()
            fields += ["report_delivered_at", "report_note"]
        current.save(update_fields=fields)
        audit.record(
            actor,
            "findings.engagement_status",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, status]},
        )
    return current


# --- Import -----------------------------------------------------------------------------
@dataclass
class ImportResult:
    scan: ScanImport
    new: int = 0
    duplicate: int = 0
    mitigated: int = 0
    reopened: int = 0
    services: int = 0
    error: str = ""
    finding_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


def receive_scan(
    actor: User | None,
    engagement: Engagement,
    upload: IO[bytes],
    file_name: str,
    *,
    tool: str | None = None,
    full_rescan: bool = True,
) -> ScanImport:
    """Keep a scanner output file as it arrived (nothing is lost), before parsing it."""
    if actor is not None:
        require(actor, "findings.plan", engagement)
    if engagement.status in (EngagementStatus.CLOSED, EngagementStatus.CANCELLED):
        raise ValidationError({"engagement": _("This engagement is closed.")})
    sha, size = keep_file(upload, MAX_SCAN_BYTES)
    with transaction.atomic():
        scan = ScanImport.objects.create(
            engagement=engagement,
            tool=tool or "",
            file_name=display_name(file_name),
            sha256=sha,
            size=size,
            full_rescan=full_rescan,
            imported_by=actor,
        )
        audit.record(
            actor,
            "findings.scan_received",
            scan,
            organisation_id=engagement.organisation_id,
            changes={"file": scan.file_name, "sha256": sha, "size": size},
        )
    return scan


def import_scan(
    actor: User | None,
    engagement: Engagement,
    upload: IO[bytes],
    file_name: str,
    *,
    tool: str | None = None,
    full_rescan: bool = True,
    now: datetime | None = None,
) -> ImportResult:
    """Keep the file, then parse and store it in one transaction (see `process_scan`)."""
    scan = receive_scan(actor, engagement, upload, file_name, tool=tool, full_rescan=full_rescan)
    return process_scan(actor, scan, now=now)


def _deadline(engagement: Engagement, severity: str, start: datetime) -> datetime | None:
    return deadlines.profile(engagement.deadline_profile).due(severity, start)


def _candidate_order(f: Finding) -> tuple[int, float, int]:
    """Which finding of the same fingerprint an import continues: one still tracked
    (active, accepted or false positive) before a resolved one; then the one seen last."""
    tracked = 0 if f.status in (*ACTIVE_STATUSES, *KEPT_WHEN_SEEN) else 1
    return (tracked, -f.last_seen.timestamp(), -f.pk)


class _Importer:
    """The state of one import inside its transaction."""

    def __init__(self, scan: ScanImport, now: datetime) -> None:
        self.scan = scan
        self.engagement = scan.engagement
        self.org_id = self.engagement.organisation_id
        self.now = now
        self.touched: dict[str, int] = {}  # fingerprint -> finding id (this import)
        self.hosts: set[str] = set()
        self.tools: set[str] = {scan.tool} if scan.tool else set()
        self.result = ImportResult(scan)
        self.due = deadlines.profile(self.engagement.deadline_profile)

    def add(self, batch: list[Any]) -> None:
        parsed: dict[str, Any] = {}
        for item in batch:
            if isinstance(item, engine.ParsedService):
                self.result.services += 1
                if item.asset.host:
                    self.hosts.add(item.asset.host)
                continue
            self.tools.add(item.tool)
            if item.asset.host:
                self.hosts.add(item.asset.host)
            fp = engine.fingerprint(item)
            if fp in self.touched or fp in parsed:
                # The same problem twice in one file (another plugin output line, another
                # path of the same parameter): one finding.
                self.result.duplicate += 1
                continue
            parsed[fp] = item
        if not parsed:
            return
        candidates: dict[str, list[Finding]] = defaultdict(list)
        for existing in Finding.objects.filter(
            organisation_id=self.org_id, fingerprint__in=list(parsed)
        ).only(*_CANDIDATE_FIELDS):
            candidates[existing.fingerprint].append(existing)
        created: list[dict[str, Any]] = []
        decisions: list[_Decision] = []
        seen_ids: list[int] = []
        changed: list[Finding] = []
        for fp, item in parsed.items():
            found = sorted(candidates.get(fp, []), key=_candidate_order)
            listed = [{"id": f.pk, "status": f.status} for f in found]
            if not found:
                created.append(self._new_finding(fp, item))
                continue
            chosen = found[0]
            previous = chosen.status
            if chosen.status in ACTIVE_STATUSES or chosen.status in KEPT_WHEN_SEEN:
                if chosen.status == FindingStatus.FIXED:
                    # Marked fixed, yet the scan still finds it: back to work.
                    chosen.status = FindingStatus.IN_PROGRESS
                    chosen.fixed_at = None
                    chosen.reopened_count += 1
                    chosen.last_seen = self.when(item)
                    changed.append(chosen)
                    outcome, reason = DedupeOutcome.REOPENED, "fixed_still_present"
                    self.result.reopened += 1
                else:
                    seen_ids.append(chosen.pk)
                    outcome = DedupeOutcome.DUPLICATE
                    reason = "kept_decision" if chosen.status in KEPT_WHEN_SEEN else "open_match"
                    self.result.duplicate += 1
            else:
                # Every candidate is resolved (closed or mitigated): the problem is back.
                chosen.status = FindingStatus.ASSIGNED if chosen.assignee_id else FindingStatus.OPEN
                chosen.reopened_count += 1
                chosen.mitigated_at = chosen.closed_at = chosen.fixed_at = None
                chosen.last_seen = self.when(item)
                chosen.deadline = _deadline(self.engagement, chosen.severity, self.now)
                chosen.reminded_days = None
                chosen.escalated_at = None
                changed.append(chosen)
                outcome, reason = DedupeOutcome.REOPENED, "resolved_match"
                self.result.reopened += 1
            self.touched[fp] = chosen.pk
            decisions.append((chosen.pk, outcome, previous, listed, reason))
        if seen_ids:
            Finding.objects.filter(pk__in=seen_ids).update(last_seen=self.now)
        if changed:
            Finding.objects.bulk_update(
                changed,
                [
                    "status",
                    "reopened_count",
                    "mitigated_at",
                    "closed_at",
                    "fixed_at",
                    "last_seen",
                    "deadline",
                    "reminded_days",
                    "escalated_at",
                ],
            )
            RemediationEvent.objects.bulk_create(
                [
                    RemediationEvent(
                        finding=f,
                        kind=EventKind.REOPENED,
                        note=_("Found again by %(file)s.") % {"file": self.scan.file_name},
                    )
                    for f in changed
                ]
            )
        if created:
            # Straight into the table (core.bulk.insert_rows: COPY on PostgreSQL): the
            # ORM's per-field work on each new row was most of an import's time.
            # The new rows' ids: those above the highest id before the insert (a range
            # of the primary key; an IN lookup of 2,000 fingerprints cost more than the
            # insert itself at 100,000 stored findings).
            before = Finding.objects.aggregate(top=Max("pk"))["top"] or 0
            insert_rows(
                Finding._meta.db_table,
                [connection.ops.quote_name(c) for c in _FINDING_COLUMNS],
                [_row(values) for values in created],
            )
            fingerprints = [values["fingerprint"] for values in created]
            wanted = set(fingerprints)
            ids: dict[str, int] = {}
            for fp, pk in Finding.objects.filter(
                pk__gt=before, organisation_id=self.org_id
            ).values_list("fingerprint", "pk"):
                if fp in wanted:
                    ids.setdefault(fp, pk)
            insert_rows(
                FindingCve._meta.db_table,
                ("finding_id", "cve"),
                [
                    (ids[values["fingerprint"]], cve)
                    for values in created
                    for cve in sorted(set(values["cves"]))
                ],
            )
            for fp in fingerprints:
                self.touched[fp] = ids[fp]
                decisions.append((ids[fp], DedupeOutcome.NEW.value, "", [], "no_match"))
            self.result.new += len(fingerprints)
        _insert_decisions(self.scan.pk, decisions, self.now)

    def when(self, item: Any) -> datetime:
        """When the tool saw it (a naive time is taken as UTC), else the import's time."""
        observed = item.observed_at
        if not isinstance(observed, datetime):
            return self.now
        if timezone.is_naive(observed):
            observed = observed.replace(tzinfo=UTC)
        return min(observed, self.now)

    def _new_finding(self, fp: str, item: Any) -> dict[str, Any]:
        """A new finding's values by attribute name (written by `_row`, not the ORM)."""
        score = item.cvss_score
        severity = item.severity if item.severity in SEVERITIES else Severity.INFO.value
        if item.cvss_vector and score is None:
            scored = engine.cvss_score(item.cvss_vector)
            if scored is not None:
                score = scored[0]
        seen = self.when(item)
        values = dict(_FINDING_DEFAULTS)
        values.update(
            organisation_id=self.org_id,
            engagement_id=self.engagement.pk,
            fingerprint=fp,
            tool=item.tool,
            rule_id=item.rule_id[:200],
            title=(item.title or item.rule_id or "?")[:500],
            severity=severity,
            cvss_vector=item.cvss_vector[:200],
            cvss_score=score,
            cves=list(item.cves),
            cwes=list(item.cwes),
            host=item.asset.host[:255],
            port=item.asset.port,
            protocol=item.asset.protocol[:10],
            service=item.asset.service[:50],
            url=item.asset.url[:2000],
            location=item.location[:1000],
            description=item.description,
            solution=item.solution,
            references=list(item.references),
            evidence=item.evidence,
            status=FindingStatus.OPEN.value,
            # The clock runs from when the agency is told (this import), not from the
            # tool's own date, which can be months old.
            deadline=self.due.due(severity, self.now),
            first_seen=seen,
            last_seen=seen,
        )
        return values

    def mitigate_absent(self) -> None:
        """A full re-scan that no longer finds a problem on a host it scanned, with the
        tool that found it, has seen it fixed: mitigated, with the date."""
        if not self.scan.full_rescan or not self.hosts or not self.tools:
            return
        hosts = sorted(self.hosts)
        touched = set(self.touched.values())
        statuses: dict[int, str] = {}
        for start in range(0, len(hosts), 500):
            rows = Finding.objects.filter(
                organisation_id=self.org_id,
                tool__in=sorted(self.tools),
                host__in=hosts[start : start + 500],
                status__in=ACTIVE_STATUSES,
            ).values_list("pk", "status")
            statuses.update((pk, status) for pk, status in rows if pk not in touched)
        gone = sorted(statuses)
        for start in range(0, len(gone), BATCH):
            part = gone[start : start + BATCH]
            Finding.objects.filter(pk__in=part).update(
                status=FindingStatus.MITIGATED, mitigated_at=self.now
            )
            _insert_decisions(
                self.scan.pk,
                [
                    (pk, DedupeOutcome.MITIGATED.value, statuses.get(pk, ""), [],
                     "absent_from_rescan")
                    for pk in part
                ],
                self.now,
            )  # fmt: skip
            note = _("Absent from the full re-scan %(file)s.") % {"file": self.scan.file_name}
            when = connection.ops.adapt_datetimefield_value(self.now)
            insert_rows(
                RemediationEvent._meta.db_table,
                ("finding_id", "kind", "actor_id", "at", "note", "evidence_sha256",
                 "evidence_name", "evidence_size"),
                [(pk, EventKind.MITIGATED.value, None, when, note, "", "", None) for pk in part],
            )  # fmt: skip
        self.result.mitigated = len(gone)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _detect(stream: IO[bytes], file_name: str) -> str:
    """The tool that wrote the file, from its first bytes (gzip undone); ParseError when
    none is recognised."""
    head = stream.read(64 * 1024)
    stream.seek(0)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64 * 1024)
        except zlib.error as exc:
            raise engine.ParseError(f"The gzip-compressed file cannot be read: {exc}.") from None
    return engine.detect(head, file_name)


def process_scan(
    actor: User | None, scan: ScanImport, *, now: datetime | None = None
) -> ImportResult:
    """Parse a kept scan file and apply it to the agency's findings in one transaction.

    Deduplication: each parsed finding's fingerprint is looked up among ALL the agency's
    findings (every engagement, every tool); of the candidates, one still tracked wins over
    a resolved one, whatever their age, so a mitigated old match never swallows a live
    problem (DefectDojo's failure). No candidate: a new finding. Only resolved candidates:
    the most recent is reopened (a regression). A full re-scan marks the findings of the
    same tool on the scanned hosts that it no longer reports as mitigated.
    """
    now = now or timezone.now()
    scan = ScanImport.objects.select_related("engagement").get(pk=scan.pk)
    importer = _Importer(scan, now)
    try:
        with open_kept(scan.sha256) as stream, collector_paused(), transaction.atomic():
            tool = scan.tool or _detect(stream, scan.file_name)
            items = engine.parse(stream, tool, filename=scan.file_name)
            for batch in _batches(iter(items), BATCH):
                importer.add(batch)
            importer.mitigate_absent()
            result = importer.result
            ScanImport.objects.filter(pk=scan.pk).update(
                tool=tool,
                state=ScanImportState.PROCESSED,
                processed_at=timezone.now(),
                new=result.new,
                duplicate=result.duplicate,
                mitigated=result.mitigated,
                reopened=result.reopened,
                services=result.services,
                hosts=sorted(importer.hosts)[:1000],
                error="",
            )
            scan.tool = tool
            audit.record(
                actor,
                "findings.scan_imported",
                scan,
                organisation_id=scan.engagement.organisation_id,
                changes={
                    "tool": tool,
                    "new": result.new,
                    "duplicate": result.duplicate,
                    "mitigated": result.mitigated,
                    "reopened": result.reopened,
                },
            )
            transaction.on_commit(lambda: _tell_agency(scan, result))
    except engine.ParseError as exc:
        message = str(exc) or _("The file could not be read.")
        with transaction.atomic():
            ScanImport.objects.filter(pk=scan.pk).update(
                state=ScanImportState.FAILED, error=message[:2000], processed_at=timezone.now()
            )
            audit.record(
                actor,
                "findings.scan_refused",
                scan,
                organisation_id=scan.engagement.organisation_id,
                changes={"error": message[:500]},
            )
        result = ImportResult(scan, error=message)
    result.scan = ScanImport.objects.get(pk=scan.pk)
    return result


def _agency_people(org_id: int, roles: Iterable[str]) -> list[int]:
    return list(
        Membership.objects.filter(
            organisation_id=org_id, role__in=list(roles), user__is_active=True
        ).values_list("user_id", flat=True)
    )


def _tell_agency(scan: ScanImport, result: ImportResult) -> None:
    if not (result.new or result.reopened):
        return
    engagement = scan.engagement
    people = _agency_people(engagement.organisation_id, [Role.ORG_ADMIN, Role.REPORTER])
    text = _("%(title)s: %(new)d new and %(reopened)d reopened findings.") % {
        "title": engagement.title,
        "new": result.new,
        "reopened": result.reopened,
    }
    notify(
        people,
        NotificationKind.OTHER,
        text,
        # The page's path as urls.py routes it, without reverse(): loading the URL
        # configuration costs a command-line import 6 s and 100 MB.
        f"/findings/engagements/{engagement.pk}/",
        subject=f"findings-engagement:{engagement.pk}",
    )


# --- Manual findings and checklists -----------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def add_manual_finding(
    actor: User,
    engagement: Engagement,
    *,
    title: str,
    severity: str,
    host: str = "",
    port: int | None = None,
    url: str = "",
    description: str = "",
    solution: str = "",
    cvss_vector: str = "",
    cves: Iterable[str] = (),
    checklist_item: ChecklistItem | None = None,
    inventory_item: InventoryItem | None = None,
) -> Finding:
    """A finding of an audit or health check, written by the CERT (from a checklist item
    when there is one). It deduplicates like an imported one."""
    require(actor, "findings.plan", engagement)
    if severity not in Severity.values:
        raise ValidationError({"severity": _("Unknown severity.")})
    if not title.strip():
        raise ValidationError({"title": _("A finding needs a title.")})
    score: float | None = None
    if cvss_vector.strip():
        scored = engine.cvss_score(cvss_vector.strip())
        if scored is None:
            raise ValidationError({"cvss_vector": _("This is not a valid CVSS 3.x or 4.0 vector.")})
        score = scored[0]
    if inventory_item is not None and inventory_item.organisation_id != engagement.organisation_id:
        raise ValidationError(
            {"inventory_item": _("This product is not in the agency's inventory.")}
        )
    cve_list = tuple(sorted({c.strip().upper() for c in cves if c.strip()}))
    bad = [c for c in cve_list if not re.fullmatch(r"CVE-\d{4}-\d{4,}", c)]
    if bad:
        raise ValidationError({"cves": _("Not a CVE identifier: %(v)s") % {"v": ", ".join(bad)}})
    rule = checklist_item.ref if checklist_item is not None else _slug(title)
    parsed = engine.ParsedFinding(
        tool="manual",
        rule_id=rule,
        title=title.strip(),
        severity=severity,  # type: ignore[arg-type]
        asset=engine.Asset(host=host.strip().lower(), port=port, url=url.strip()),
        cves=cve_list,
        cvss_vector=cvss_vector.strip(),
        cvss_score=score,
        description=description,
        solution=solution,
    )
    now = timezone.now()
    fp = engine.fingerprint(parsed)
    with transaction.atomic():
        existing = sorted(
            Finding.objects.filter(organisation_id=engagement.organisation_id, fingerprint=fp),
            key=_candidate_order,
        )
        if existing and existing[0].status in (*ACTIVE_STATUSES, *KEPT_WHEN_SEEN):
            raise ValidationError(
                {
                    "title": _("This problem is already tracked as F-%(id)d.")
                    % {"id": existing[0].pk}
                }
            )
        finding = Finding.objects.create(
            organisation_id=engagement.organisation_id,
            engagement=engagement,
            fingerprint=fp,
            tool="manual",
            rule_id=rule,
            title=title.strip()[:500],
            severity=severity,
            cvss_vector=parsed.cvss_vector,
            cvss_score=score,
            cves=list(cve_list),
            host=parsed.asset.host,
            port=port,
            url=parsed.asset.url,
            description=description,
            solution=solution,
            checklist_item=checklist_item,
            inventory_item=inventory_item,
            deadline=_deadline(engagement, severity, now),
            first_seen=now,
            last_seen=now,
        )
        FindingCve.objects.bulk_create([FindingCve(finding=finding, cve=c) for c in cve_list])
        audit.record(
            actor,
            "findings.finding_added",
            finding,
            organisation_id=engagement.organisation_id,
            changes={"severity": severity, "title": finding.title},
        )
    return finding


def save_checklist(
    actor: User, *, kind: str, title: str, items: Iterable[tuple[str, str, str, str]]
) -> Checklist:
    """Create or replace the CERT's checklist `title` for one kind of engagement; items are
    (reference, title, severity, guidance)."""
    require(actor, "findings.plan")
    rows = list(items)
    for ref, _title, severity, _guidance in rows:
        if severity not in Severity.values:
            raise ValidationError({"items": _("Unknown severity for %(ref)s.") % {"ref": ref}})
    with transaction.atomic():
        checklist, _created = Checklist.objects.update_or_create(
            kind=kind, title=title, defaults={"active": True}
        )
        for order, (ref, item_title, severity, guidance) in enumerate(rows):
            ChecklistItem.objects.update_or_create(
                checklist=checklist,
                ref=ref,
                defaults={
                    "title": item_title,
                    "severity": severity,
                    "guidance": guidance,
                    "order": order,
                },
            )
        checklist.items.exclude(ref__in=[r[0] for r in rows]).delete()
        audit.record(actor, "findings.checklist_saved", checklist, changes={"items": len(rows)})
    return checklist


# --- Remediation workflow ---------------------------------------------------------------
def _locked(finding: Finding) -> Finding:
    return Finding.objects.select_for_update().get(pk=finding.pk)


def _event(
    finding: Finding,
    kind: str,
    actor: User | None,
    note: str = "",
    evidence: tuple[str, str, int] | None = None,
) -> RemediationEvent:
    sha, name, size = evidence or ("", "", None)
    return RemediationEvent.objects.create(
        finding=finding,
        kind=kind,
        actor=actor,
        note=note.strip(),
        evidence_sha256=sha,
        evidence_name=name,
        evidence_size=size,
    )


def _step(actor: User, finding: Finding, allowed: Iterable[str], message: str) -> Finding:
    current = _locked(finding)
    if current.status not in tuple(allowed):
        raise ValidationError({"status": message % {"status": current.get_status_display()}})
    return current


def assign(actor: User, finding: Finding, assignee: User, note: str = "") -> Finding:
    """Give a finding to someone of the agency (or the CERT) to remediate."""
    require(actor, "findings.work", finding)
    assignee_viewer = viewer_of(assignee)
    if not (assignee_viewer.cert_staff or finding.organisation_id in assignee_viewer.own_org_ids):
        raise ValidationError({"assignee": _("The assignee must belong to the agency.")})
    with transaction.atomic():
        current = _step(
            actor, finding, OPEN_STATUSES, _("A finding that is %(status)s is not assigned.")
        )
        previous = current.status
        current.assignee = assignee
        if current.status == FindingStatus.OPEN:
            current.status = FindingStatus.ASSIGNED
        current.save(update_fields=["assignee", "status"])
        _event(current, EventKind.ASSIGNED, actor, note or assignee.get_username())
        audit.record(
            actor,
            "findings.assigned",
            current,
            organisation_id=current.organisation_id,
            changes={"assignee": assignee.get_username(), "status": [previous, current.status]},
        )
    if assignee.pk != actor.pk:
        notify(
            [assignee],
            NotificationKind.OTHER,
            _("Finding F-%(id)d was assigned to you.") % {"id": current.pk},
            reverse("findings-finding", args=[current.pk]),
        )
    return current


def start(actor: User, finding: Finding, note: str = "") -> Finding:
    require(actor, "findings.work", finding)
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            (FindingStatus.OPEN, FindingStatus.ASSIGNED),
            _("A finding that is %(status)s cannot be started."),
        )
        previous = current.status
        current.status = FindingStatus.IN_PROGRESS
        if current.assignee_id is None:
            current.assignee = actor
        current.save(update_fields=["status", "assignee"])
        _event(current, EventKind.STARTED, actor, note)
        audit.record(
            actor,
            "findings.started",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status]},
        )
    return current


def mark_fixed(
    actor: User,
    finding: Finding,
    note: str,
    evidence: IO[bytes] | None = None,
    evidence_name: str = "",
) -> Finding:
    """The agency says it is fixed and shows how (a note, and a file when it has one: a
    screenshot, a configuration extract, a patch report); the CERT retests."""
    require(actor, "findings.work", finding)
    if not note.strip() and evidence is None:
        raise ValidationError({"note": _("Say how it was fixed, or attach the evidence.")})
    kept: tuple[str, str, int] | None = None
    if evidence is not None:
        sha, size = keep_file(evidence, MAX_EVIDENCE_BYTES)
        kept = (sha, display_name(evidence_name or "evidence"), size)
    with transaction.atomic():
        current = _step(
            actor, finding, OPEN_STATUSES, _("A finding that is %(status)s cannot be fixed.")
        )
        previous = current.status
        current.status = FindingStatus.FIXED
        current.fixed_at = timezone.now()
        current.save(update_fields=["status", "fixed_at"])
        _event(current, EventKind.FIXED, actor, note, kept)
        audit.record(
            actor,
            "findings.fixed",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status], "evidence": kept[0] if kept else ""},
        )
    return current


def retest(actor: User, finding: Finding, *, passed: bool, note: str = "") -> Finding:
    """The CERT checks a fixed finding: closed when the fix holds, back to work if not."""
    require(actor, "findings.retest", finding)
    if not passed and not note.strip():
        raise ValidationError({"note": _("Say what the retest still found.")})
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            (FindingStatus.FIXED,),
            _("Only a fixed finding is retested; this one is %(status)s."),
        )
        previous = current.status
        if passed:
            current.status = FindingStatus.CLOSED
            current.closed_at = timezone.now()
        else:
            current.status = FindingStatus.IN_PROGRESS
            current.fixed_at = None
        current.save(update_fields=["status", "closed_at", "fixed_at"])
        _event(current, EventKind.RETEST_PASSED if passed else EventKind.RETEST_FAILED, actor, note)
        audit.record(
            actor,
            "findings.retested",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status], "passed": passed},
        )
    return current


def mark_false_positive(actor: User, finding: Finding, reason: str) -> Finding:
    require(actor, "findings.false_positive", finding)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why this is a false positive.")})
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            ACTIVE_STATUSES,
            _("A finding that is %(status)s cannot be marked a false positive."),
        )
        previous = current.status
        current.status = FindingStatus.FALSE_POSITIVE
        current.false_positive_reason = reason.strip()
        current.save(update_fields=["status", "false_positive_reason"])
        _event(current, EventKind.FALSE_POSITIVE, actor, reason)
        audit.record(
            actor,
            "findings.false_positive",
            current,
            organisation_id=current.organisation_id,
            changes={"status": [previous, current.status], "reason": reason.strip()[:300]},
        )
    return current


def comment(actor: User, finding: Finding, note: str) -> RemediationEvent:
    require(actor, "findings.work", finding)
    if not note.strip():
        raise ValidationError({"note": _("The comment is empty.")})
    with transaction.atomic():
        event = _event(finding, EventKind.COMMENT, actor, note)
        audit.record(actor, "findings.comment", finding, organisation_id=finding.organisation_id)
    return event


def request_risk_acceptance(
    actor: User, finding: Finding, *, reason: str, expires_on: date
) -> RiskAcceptance:
    """Ask to live with a finding until a date; a second person decides."""
    require(actor, "findings.request_acceptance", finding)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the risk is acceptable.")})
    if expires_on <= timezone.localdate():
        raise ValidationError({"expires_on": _("The acceptance must end in the future.")})
    with transaction.atomic():
        current = _step(
            actor,
            finding,
            OPEN_STATUSES,
            _("A finding that is %(status)s cannot have its risk accepted."),
        )
        if current.acceptances.filter(state=RiskAcceptanceState.PENDING).exists():
            raise ValidationError({"reason": _("A request is already waiting for a decision.")})
        acceptance = RiskAcceptance.objects.create(
            finding=current,
            reason=reason.strip(),
            expires_on=expires_on,
            requested_by=actor,
            previous_status=current.status,
        )
        _event(current, EventKind.RISK_REQUESTED, actor, reason)
        audit.record(
            actor,
            "findings.risk_requested",
            current,
            organisation_id=current.organisation_id,
            changes={"expires_on": expires_on.isoformat()},
        )
    approvers = [
        u for u in _agency_people(current.organisation_id, [Role.ORG_ADMIN]) if u != actor.pk
    ]
    notify(
        approvers,
        NotificationKind.OTHER,
        _("A risk acceptance for finding F-%(id)d awaits your decision.") % {"id": current.pk},
        reverse("findings-finding", args=[current.pk]),
        subject=f"findings-risk:{acceptance.pk}",
    )
    return acceptance


def decide_risk_acceptance(
    actor: User, acceptance: RiskAcceptance, *, approve: bool, note: str = ""
) -> RiskAcceptance:
    """The second person approves (the finding is risk-accepted until the date) or refuses."""
    acceptance = RiskAcceptance.objects.select_related("finding").get(pk=acceptance.pk)
    require(actor, "findings.approve_acceptance", acceptance)
    with transaction.atomic():
        locked: RiskAcceptance = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        if locked.state != RiskAcceptanceState.PENDING:
            raise ValidationError({"state": _("This request was already decided.")})
        finding = _locked(acceptance.finding)
        locked.state = RiskAcceptanceState.APPROVED if approve else RiskAcceptanceState.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["state", "decided_by", "decided_at"])
        if approve:
            if finding.status not in OPEN_STATUSES:
                raise ValidationError(
                    {"state": _("The finding is no longer open; nothing to accept.")}
                )
            locked.previous_status = finding.status
            locked.save(update_fields=["previous_status"])
            finding.status = FindingStatus.RISK_ACCEPTED
            finding.save(update_fields=["status"])
        _event(
            finding,
            EventKind.RISK_APPROVED if approve else EventKind.RISK_REJECTED,
            actor,
            note,
        )
        audit.record(
            actor,
            "findings.risk_decided",
            finding,
            organisation_id=finding.organisation_id,
            changes={"approved": approve, "expires_on": locked.expires_on.isoformat()},
        )
    return locked


def expire_risk_acceptances(today: date | None = None) -> int:
    """Accepted risks whose date has passed are open again (the system acts)."""
    today = today or timezone.localdate()
    done = 0
    for acceptance in RiskAcceptance.objects.filter(
        state=RiskAcceptanceState.APPROVED, expires_on__lt=today
    ).select_related("finding"):
        with transaction.atomic():
            finding = _locked(acceptance.finding)
            RiskAcceptance.objects.filter(pk=acceptance.pk).update(
                state=RiskAcceptanceState.EXPIRED
            )
            if finding.status == FindingStatus.RISK_ACCEPTED:
                finding.status = acceptance.previous_status or FindingStatus.OPEN
                finding.save(update_fields=["status"])
            _event(finding, EventKind.RISK_EXPIRED, None)
            audit.record(
                None,
                "findings.risk_expired",
                finding,
                organisation_id=finding.organisation_id,
            )
            done += 1
    return done


# --- EPSS and the known-exploited list ------------------------------------------------
def _cves_of_tracked() -> dict[int, list[str]]:
    by_finding: dict[int, list[str]] = defaultdict(list)
    rows = FindingCve.objects.filter(
        finding__status__in=(*ACTIVE_STATUSES, *KEPT_WHEN_SEEN)
    ).values_list("finding_id", "cve")
    for finding_id, cve in rows.iterator(chunk_size=5000):
        by_finding[finding_id].append(cve)
    return by_finding


def load_epss(actor: User | None, stream: IO[bytes]) -> int:
    """FIRST's daily EPSS file (epss_scores-YYYY-MM-DD.csv, plain or gzip): each finding
    still tracked gets the highest probability among its CVEs. Returns findings updated.
    A file the engine refuses raises ParseError before anything changes."""
    if actor is not None:
        require(actor, "findings.plan")
    wanted = _cves_of_tracked()
    needed = {cve for cves in wanted.values() for cve in cves}
    scores = {cve: epss for cve, epss, _pct in engine.read_epss(stream) if cve in needed}
    changed = [
        Finding(pk=pk, epss=max(scores[c] for c in cves if c in scores))
        for pk, cves in wanted.items()
        if any(c in scores for c in cves)
    ]
    with transaction.atomic():
        Finding.objects.bulk_update(changed, ["epss"], batch_size=BATCH)
        audit.record(
            actor, "findings.epss_loaded", object_type="findings.finding",
            changes={"findings": len(changed), "cves": len(scores)},
        )  # fmt: skip
    return len(changed)


def load_kev(actor: User | None, stream: IO[bytes]) -> int:
    """CISA's known_exploited_vulnerabilities.json: findings still tracked with a CVE in
    the catalogue are flagged known-exploited (and unflagged when it left). Returns the
    findings flagged."""
    if actor is not None:
        require(actor, "findings.plan")
    listed = {entry.cve.upper() for entry in engine.read_kev(stream)}
    wanted = _cves_of_tracked()
    flagged = [pk for pk, cves in wanted.items() if any(c in listed for c in cves)]
    with transaction.atomic():
        tracked = Finding.objects.filter(pk__in=list(wanted))
        tracked.filter(kev=True).exclude(pk__in=flagged).update(kev=False)
        for start in range(0, len(flagged), BATCH):
            Finding.objects.filter(pk__in=flagged[start : start + BATCH]).update(kev=True)
        audit.record(
            actor, "findings.kev_loaded", object_type="findings.finding",
            changes={"findings": len(flagged), "catalogue": len(listed)},
        )  # fmt: skip
    return len(flagged)


# --- Deadlines --------------------------------------------------------------------------
def _authority_people(org: Organisation) -> list[int]:
    ids: list[int] = []
    parent = org.parent
    while parent is not None:
        ids.append(parent.pk)
        parent = parent.parent
    return list(
        Membership.objects.filter(
            organisation_id__in=ids, role__in=[Role.REVIEWER, Role.ORG_ADMIN], user__is_active=True
        ).values_list("user_id", flat=True)
    )


def send_deadline_alerts(now: datetime | None = None) -> dict[str, int]:
    """Reminders before a deadline (to the assignee, or the agency's admins) and, once it
    has passed, escalation to the authority above the agency (or the CERT's duty officers
    when it has none). One notice per agency and kind, not one per finding."""
    now = now or timezone.now()
    reminded: dict[int, list[Finding]] = defaultdict(list)
    escalated: dict[int, list[Finding]] = defaultdict(list)
    rows = (
        Finding.objects.filter(status__in=OPEN_STATUSES, deadline__isnull=False)
        .filter(Q(escalated_at__isnull=True))
        .select_related("engagement")
        .only(
            "pk",
            "organisation_id",
            "deadline",
            "reminded_days",
            "assignee_id",
            "engagement__deadline_profile",
        )
    )
    for finding in rows.iterator(chunk_size=2000):
        assert finding.deadline is not None
        prof = deadlines.profile(finding.engagement.deadline_profile)
        if finding.deadline <= now:
            if prof.escalation_due(finding.deadline, now):
                escalated[finding.organisation_id].append(finding)
            continue
        threshold = prof.reminder_due(finding.deadline, now, finding.reminded_days)
        if threshold is not None:
            finding.reminded_days = threshold
            reminded[finding.organisation_id].append(finding)
    orgs = Organisation.objects.in_bulk(set(reminded) | set(escalated))
    told = 0
    with transaction.atomic():
        for org_id, found in reminded.items():
            Finding.objects.bulk_update(found, ["reminded_days"])
            RemediationEvent.objects.bulk_create(
                [RemediationEvent(finding=f, kind=EventKind.REMINDED) for f in found]
            )
            people = {f.assignee_id for f in found if f.assignee_id} | set(
                _agency_people(org_id, [Role.ORG_ADMIN])
            )
            told += notify(
                sorted(people),
                NotificationKind.CLOCK_REMINDER,
                _("%(org)s: %(n)d findings are due for remediation soon.")
                % {"org": orgs[org_id].name, "n": len(found)},
                reverse("findings-list") + f"?organisation={org_id}&due=soon",
                subject=f"findings-due:{org_id}",
            )
        for org_id, found in escalated.items():
            ids = [f.pk for f in found]
            Finding.objects.filter(pk__in=ids).update(escalated_at=now)
            RemediationEvent.objects.bulk_create(
                [RemediationEvent(finding_id=pk, kind=EventKind.ESCALATED) for pk in ids]
            )
            people = set(_authority_people(orgs[org_id])) or set(
                Membership.objects.filter(
                    organisation__kind=OrganisationKind.NATIONAL_CERT, role=Role.DUTY_OFFICER
                ).values_list("user_id", flat=True)
            )
            people |= set(_agency_people(org_id, [Role.ORG_ADMIN]))
            told += notify(
                sorted(people),
                NotificationKind.CLOCK_OVERDUE,
                _("%(org)s: %(n)d findings are past their remediation deadline.")
                % {"org": orgs[org_id].name, "n": len(found)},
                reverse("findings-list") + f"?organisation={org_id}&due=overdue",
                subject=f"findings-overdue:{org_id}",
            )
            audit.record(
                None,
                "findings.escalated",
                orgs[org_id],
                organisation_id=org_id,
                changes={"findings": len(ids)},
            )
    return {
        "reminded": sum(len(v) for v in reminded.values()),
        "escalated": sum(len(v) for v in escalated.values()),
        "told": told,
    }


__all__ = [
    "RESOLVED_STATUSES",
    "ImportResult",
    "add_manual_finding",
    "assign",
    "change_engagement_status",
    "comment",
    "create_engagement",
    "decide_risk_acceptance",
    "expire_risk_acceptances",
    "import_scan",
    "load_epss",
    "load_kev",
    "mark_false_positive",
    "mark_fixed",
    "process_scan",
    "receive_scan",
    "request_risk_acceptance",
    "retest",
    "save_checklist",
    "send_deadline_alerts",
    "start",
]
