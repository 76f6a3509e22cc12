"""Scan imports: the raw file kept, parsed by the engine, deduplicated against every
match of the agency and stored in one transaction; the agency told."""

import zlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Role, User
from bulwark.core import audit
from bulwark.core.bulk import collector_paused, insert_rows
from bulwark.core.models import NotificationKind
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.findings import deadlines, engine
from bulwark.findings.engine import csvmap
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    DedupeOutcome,
    Engagement,
    EngagementStatus,
    EventKind,
    Finding,
    FindingCve,
    FindingStatus,
    RemediationEvent,
    ScanImport,
    ScanImportState,
    ScannedService,
    Severity,
)
from bulwark.findings.services.common import (
    BATCH,
    CANDIDATE_FIELDS,
    FINDING_COLUMNS,
    FINDING_DEFAULTS,
    KEPT_WHEN_SEEN,
    MAX_SCAN_BYTES,
    SEVERITIES,
    Decision,
    agency_people,
    candidate_order,
    deadline_for,
    display_name,
    finding_row,
    insert_decisions,
    keep_file,
    new_ids,
    open_kept,
)
from bulwark.findings.services.history import record_status_changes
from bulwark.findings.services.tally import InsertTally

# The most hosts and services one file records for its engagement.
MAX_SERVICES = 100_000


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
    mapping: Mapping[str, str] | None = None,
) -> ScanImport:
    """Keep a scanner output file as it arrived (nothing is lost), before parsing it.
    `mapping` (CSV files) names the file's column for each of our fields."""
    if actor is not None:
        require(actor, "findings.plan", engagement)
    if engagement.status in (EngagementStatus.CLOSED, EngagementStatus.CANCELLED):
        raise ValidationError({"engagement": _("This engagement is closed.")})
    columns = checked_mapping(mapping, tool)
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
            column_mapping=columns,
        )
        audit.record(
            actor,
            "findings.scan_received",
            scan,
            organisation_id=engagement.organisation_id,
            changes={"file": scan.file_name, "sha256": sha, "size": size},
        )
    return scan


def checked_mapping(mapping: Mapping[str, str] | None, tool: str | None) -> dict[str, str]:
    """A CSV column mapping as stored: our field names only, each to a column name;
    blank entries dropped. ValidationError says what is wrong."""
    if not mapping:
        return {}
    if not isinstance(mapping, Mapping):
        raise ValidationError({"mapping": _("The column mapping is an object: field -> column.")})
    if tool and tool != "csv":
        raise ValidationError({"mapping": _("A column mapping is only for CSV files.")})
    unknown = sorted(str(k) for k in mapping if k not in csvmap.FIELDS)
    if unknown:
        raise ValidationError(
            {
                "mapping": _("Unknown field(s): %(names)s; the fields are %(fields)s.")
                % {"names": ", ".join(unknown)[:300], "fields": ", ".join(csvmap.FIELDS)}
            }
        )
    columns: dict[str, str] = {}
    for name, column in mapping.items():
        if not isinstance(column, str) or len(column) > 200 or "\x00" in column:
            raise ValidationError(
                {"mapping": _("The column for %(field)s is not a column name.") % {"field": name}}
            )
        if column.strip():
            columns[str(name)] = column.strip()
    return columns


def map_columns(actor: User | None, scan: ScanImport, mapping: Mapping[str, str]) -> ScanImport:
    """Set the column mapping of a kept CSV file not imported yet (or refused): the next
    `process_scan` reads the file with it."""
    if actor is not None:
        require(actor, "findings.plan", scan.engagement)
    columns = checked_mapping(mapping, "csv")
    with transaction.atomic():
        scan = ScanImport.objects.select_for_update().select_related("engagement").get(pk=scan.pk)
        if scan.state == ScanImportState.PROCESSED:
            raise ValidationError({"mapping": _("This file is imported already.")})
        scan.column_mapping = columns
        scan.state = ScanImportState.RECEIVED
        scan.error = ""
        scan.save(update_fields=["column_mapping", "state", "error"])
        audit.record(
            actor,
            "findings.scan_mapped",
            scan,
            organisation_id=scan.engagement.organisation_id,
            changes={"mapping": columns},
        )
    return scan


def kept_tool(scan: ScanImport) -> str:
    """The tool of a kept file: as named at upload, else detected from its content ("" if
    none is recognised)."""
    if scan.tool:
        return scan.tool
    try:
        with open_kept(scan.sha256) as stream:
            return _detect(stream, scan.file_name)
    except (engine.ParseError, FileNotFoundError):
        return ""


def preview_csv(scan: ScanImport, mapping: Mapping[str, str] | None = None) -> csvmap.Preview:
    """The first rows of a kept CSV file as `mapping` (default: the stored one) reads them."""
    with open_kept(scan.sha256) as stream:
        return csvmap.preview(stream, mapping if mapping is not None else scan.column_mapping)


def import_scan(
    actor: User | None,
    engagement: Engagement,
    upload: IO[bytes],
    file_name: str,
    *,
    tool: str | None = None,
    full_rescan: bool = True,
    now: datetime | None = None,
    mapping: Mapping[str, str] | None = None,
) -> ImportResult:
    """Keep the file, then parse and store it in one transaction (see `process_scan`)."""
    scan = receive_scan(
        actor, engagement, upload, file_name, tool=tool, full_rescan=full_rescan, mapping=mapping
    )
    return process_scan(actor, scan, now=now)


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
        # (host, port, protocol) -> (service, product): the engagement's scanned assets
        self.services: dict[tuple[str, int, str], tuple[str, str]] = {}
        self.adapted: dict[Any, Any] = {}  # datetimes in the database's form (finding_row)
        self.tally = InsertTally()
        # The findings stored before this import: those a full re-scan can find absent.
        self.top = Finding.objects.aggregate(top=Max("pk"))["top"] or 0

    def add(self, batch: list[Any]) -> None:
        parsed: dict[str, Any] = {}
        for item in batch:
            if isinstance(item, engine.ParsedService):
                if item.asset.port:
                    self.result.services += 1  # an open port (a host alone is no service)
                if item.asset.host:
                    self.hosts.add(item.asset.host)
                    self.keep_service(item)
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
        # The candidates as plain rows (one query per batch, by the (organisation,
        # fingerprint) index): a model instance is made only for the few that change.
        candidates: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in _candidate_rows(self.org_id, list(parsed)):
            candidates[row[1]].append(row)
        created: list[dict[str, Any]] = []
        decisions: list[Decision] = []
        seen_ids: list[int] = []
        changed: list[Finding] = []
        for fp, item in parsed.items():
            rows = candidates.get(fp)
            if not rows:
                created.append(self._new_finding(fp, item))
                continue
            found = [_candidate(row) for row in rows]  # every candidate, never the first
            if len(found) > 1:
                found.sort(key=candidate_order)
            listed = [{"id": f.pk, "status": f.status} for f in found]
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
                chosen.deadline = deadline_for(self.engagement, chosen.severity, self.now)
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
            # their status history (before the update: the deadline they had until now)
            reopened_from = {d[0]: d[2] for d in decisions if d[1] == DedupeOutcome.REOPENED}
            deadlines = dict(
                Finding.objects.filter(pk__in=[f.pk for f in changed]).values_list("pk", "deadline")
            )
            record_status_changes(
                [
                    (f.pk, reopened_from.get(f.pk, ""), f.status, deadlines.get(f.pk))
                    for f in changed
                ],
                self.now,
                scan_id=self.scan.pk,
            )
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
            # Ids taken first (the sequence on PostgreSQL, past the table's on SQLite),
            # so that no query reads the new rows back for them.
            ids = new_ids(Finding, len(created))
            self.tally.pause()
            insert_rows(
                Finding._meta.db_table,
                ["id", *(connection.ops.quote_name(c) for c in FINDING_COLUMNS)],
                [
                    (pk, *finding_row(values, self.adapted))
                    for pk, values in zip(ids, created, strict=True)
                ],
            )
            self.tally.inserted(ids[0], ids[-1])
            insert_rows(
                FindingCve._meta.db_table,
                ("finding_id", "cve"),
                [
                    (pk, cve)
                    for pk, values in zip(ids, created, strict=True)
                    for cve in sorted(set(values["cves"]))
                ],
            )
            fingerprints = [values["fingerprint"] for values in created]
            for fp, pk in zip(fingerprints, ids, strict=True):
                self.touched[fp] = pk
                decisions.append((pk, DedupeOutcome.NEW.value, "", [], "no_match"))
            self.result.new += len(fingerprints)
        insert_decisions(self.scan.pk, decisions, self.now)

    def keep_service(self, item: Any) -> None:
        """A host the file covered (port 0: the host itself, found clean or not) or an open
        port on it, once per host, port and protocol."""
        asset = item.asset
        key = (asset.host[:255], asset.port or 0, asset.protocol[:10])
        if key not in self.services and len(self.services) < MAX_SERVICES:
            self.services[key] = (asset.service[:50], item.product[:200])

    def store_services(self) -> None:
        """The engagement's scanned hosts and services: new ones added, known ones seen
        again (last seen, and the service's name when this file gives another)."""
        if not self.services:
            return
        hosts = sorted({host for host, _port, _protocol in self.services})
        # (host, port, protocol) -> (id, service, product), as plain rows
        known: dict[tuple[str, int, str], tuple[int, str, str]] = {}
        for start in range(0, len(hosts), 500):
            for pk, host, port, protocol, service, product in (
                ScannedService.objects.filter(
                    engagement_id=self.engagement.pk, host__in=hosts[start : start + 500]
                )
                .order_by()
                .values_list("pk", "host", "port", "protocol", "service", "product")
            ):
                known[(host, port, protocol)] = (pk, service, product)
        # New ones straight into the table (core.bulk.insert_rows), as the findings: the
        # ORM's bulk_create of 70,000 services cost a tenth of a 100,000-finding import.
        when = connection.ops.adapt_datetimefield_value(self.now)
        fresh: list[tuple[Any, ...]] = []
        seen: list[int] = []
        renamed: list[ScannedService] = []
        for key, (service, product) in self.services.items():
            row = known.get(key)
            if row is None:
                fresh.append((self.engagement.pk, *key, service, product, self.scan.pk, when, when))
                continue
            pk, was_service, was_product = row
            seen.append(pk)
            if (service and service != was_service) or (product and product != was_product):
                renamed.append(
                    ScannedService(
                        pk=pk, service=service or was_service, product=product or was_product
                    )
                )
        insert_rows(
            ScannedService._meta.db_table,
            ("engagement_id", "host", "port", "protocol", "service", "product", "scan_id",
             "first_seen", "last_seen"),
            fresh,
        )  # fmt: skip
        for start in range(0, len(seen), BATCH):
            ScannedService.objects.filter(pk__in=seen[start : start + BATCH]).update(
                last_seen=self.now, scan_id=self.scan.pk
            )
        ScannedService.objects.bulk_update(renamed, ["service", "product"], batch_size=500)

    def when(self, item: Any) -> datetime:
        """When the tool saw it (a naive time is taken as UTC), else the import's time."""
        observed = item.observed_at
        if not isinstance(observed, datetime):
            return self.now
        if timezone.is_naive(observed):
            observed = observed.replace(tzinfo=UTC)
        return min(observed, self.now)

    def _new_finding(self, fp: str, item: Any) -> dict[str, Any]:
        """A new finding's values by attribute name (written by `finding_row`, not the ORM)."""
        score = item.cvss_score
        severity = item.severity if item.severity in SEVERITIES else Severity.INFO.value
        if item.cvss_vector and score is None:
            scored = engine.cvss_score(item.cvss_vector)
            if scored is not None:
                score = scored[0]
        seen = self.when(item)
        values = dict(FINDING_DEFAULTS)
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
            recorded_at=self.now,  # time to remediate counts from here, not the tool's date
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
        kept_deadlines: dict[int, datetime | None] = {}
        for start in range(0, len(hosts), 500):
            rows = _active_on_hosts(self.org_id, hosts[start : start + 500], self.tools, self.top)
            for pk, status, deadline in rows:
                if pk not in touched:
                    statuses[pk] = status
                    kept_deadlines[pk] = deadline
        gone = sorted(statuses)
        for start in range(0, len(gone), BATCH):
            part = gone[start : start + BATCH]
            Finding.objects.filter(pk__in=part).update(
                status=FindingStatus.MITIGATED, mitigated_at=self.now
            )
            record_status_changes(
                [(pk, statuses[pk], FindingStatus.MITIGATED, kept_deadlines[pk]) for pk in part],
                self.now,
                scan_id=self.scan.pk,
            )
            insert_decisions(
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


def _candidate_rows(org_id: int, fingerprints: list[str]) -> list[tuple[Any, ...]]:
    """The agency's findings with these fingerprints (CANDIDATE_FIELDS rows), looked up in
    the (organisation, fingerprint) index whatever the planner knows of the agency.

    Unordered on SQLite: the model's ordering (-pk) made it walk the agency's whole
    (organisation) index in id order instead, per batch: quadratic in the agency's
    findings. On PostgreSQL, `fingerprint IN (2,000 values)` of an agency the statistics
    do not know yet (its first import) was planned as a scan of all the agency's rows
    (4.6 s of server CPU in a 100,000-finding import), and so was a join to the
    fingerprints: one lookup per fingerprint (LATERAL, kept a subquery by OFFSET 0 so
    that the planner cannot turn it back into that join) leaves it only the index."""
    if connection.vendor != "postgresql":
        return list(
            Finding.objects.filter(organisation_id=org_id, fingerprint__in=fingerprints)
            .order_by()
            .values_list(*CANDIDATE_FIELDS)
        )
    columns = ", ".join(f"f.{'id' if c == 'pk' else c}" for c in CANDIDATE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM unnest(%s::varchar[]) AS u(fp) "  # noqa: S608
            "CROSS JOIN LATERAL (SELECT * FROM findings_finding "
            "WHERE organisation_id = %s AND fingerprint = u.fp OFFSET 0) AS f",
            [fingerprints, org_id],
        )
        return list(cursor.fetchall())


def _active_on_hosts(
    org_id: int, hosts: list[str], tools: set[str], top: int
) -> list[tuple[int, str, datetime | None]]:
    """(id, status, deadline) of the agency's active findings of these tools on these hosts stored
    before the import (id <= top), by the (organisation, host) index (see
    `_candidate_rows`)."""
    statuses = [str(s) for s in ACTIVE_STATUSES]
    if connection.vendor != "postgresql":
        return list(
            Finding.objects.filter(
                organisation_id=org_id,
                tool__in=sorted(tools),
                host__in=hosts,
                status__in=statuses,
                pk__lte=top,
            )
            .order_by()
            .values_list("pk", "status", "deadline")
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id, f.status, f.deadline FROM unnest(%s::varchar[]) AS u(host) "
            "CROSS JOIN LATERAL (SELECT id, status, deadline FROM findings_finding "
            "WHERE organisation_id = %s AND host = u.host AND tool = ANY(%s::varchar[]) "
            "AND status = ANY(%s::varchar[]) AND id <= %s OFFSET 0) AS f",
            [hosts, org_id, sorted(tools), statuses, top],
        )
        return list(cursor.fetchall())


def _candidate(row: tuple[Any, ...]) -> Finding:
    """A stored finding from its CANDIDATE_FIELDS row, without the ORM's loading work."""
    pk, fingerprint, status, last_seen, assignee_id, severity, reopened_count = row
    finding = Finding.__new__(Finding)
    finding.__dict__.update(
        id=pk,
        fingerprint=fingerprint,
        status=status,
        last_seen=last_seen,
        assignee_id=assignee_id,
        severity=severity,
        reopened_count=reopened_count,
    )
    finding._state = ModelState()
    finding._state.adding = False
    finding._state.db = "default"
    return finding


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
            # a file of clean hosts only yields no finding to name the tool
            importer.tools.add(tool)
            items = engine.parse(
                stream, tool, filename=scan.file_name, mapping=scan.column_mapping or None
            )
            for batch in _batches(iter(items), BATCH):
                importer.add(batch)
            importer.mitigate_absent()
            importer.store_services()
            importer.tally.resume()  # before the commit (see InsertTally)
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


def _tell_agency(scan: ScanImport, result: ImportResult) -> None:
    if not (result.new or result.reopened):
        return
    engagement = scan.engagement
    people = agency_people(engagement.organisation_id, [Role.ORG_ADMIN, Role.REPORTER])
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
