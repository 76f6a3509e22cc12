"""Reads for pages, the API and the command line, always narrowing `visible_to(user)`."""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.models import Organisation
from bulwark.core.permissions import Reader
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    RESOLVED_ROWS,
    SEVERITY_ORDER,
    ChecklistItem,
    Engagement,
    EngagementKind,
    EngagementStatus,
    Finding,
    FindingStatus,
    FindingTally,
    Severity,
    StatusChange,
    TallyResolved,
)

SOON = timedelta(days=7)
# Who knows an agency's responsibility level: dotted paths of `f(organisation_id) -> str |
# None`, registered by the app that keeps it (training, which sits above findings).
AGENCY_LEVEL: dict[str, str] = {}


def agency_level(organisation_id: int) -> str | None:
    """The agency's responsibility level as recorded (by training), None when none is."""
    for path in AGENCY_LEVEL.values():
        level: str | None = import_string(path)(organisation_id)
        if level:
            return level
    return None


def checklist_items(engagement: Engagement) -> QuerySet[ChecklistItem]:
    """The items of the active checklists for the engagement's kind, picked by the
    agency's responsibility level: the checklists for its level when there are any, else
    those for any level, else (no level recorded, or none for it) every one of the kind."""
    items = ChecklistItem.objects.filter(
        checklist__kind=engagement.kind, checklist__active=True
    ).select_related("checklist")
    level = agency_level(engagement.organisation_id)
    if level and items.filter(checklist__level=level).exists():
        return items.filter(checklist__level=level)
    if items.filter(checklist__level="").exists():
        return items.filter(checklist__level="")
    return items


def checklist_rows(engagement: Engagement) -> list[tuple[ChecklistItem, Any]]:
    """The engagement's checklist items (`checklist_items`) with each one's recorded
    result (a `ChecklistResult`, or None), in the checklists' order."""
    results = {r.item_id: r for r in engagement.checklist_results.all()}
    return [(item, results.get(item.pk)) for item in checklist_items(engagement)]


def status_at(findings: QuerySet[Finding], moment: datetime) -> QuerySet[Finding]:
    """`findings` annotated with `status_then` and `deadline_then`, each one's status and
    deadline at `moment`: those it had until its first recorded change after `moment`,
    else its status and deadline now (no change since, or none recorded: findings older
    than the history keep theirs)."""
    after = StatusChange.objects.filter(finding_id=OuterRef("pk"), at__gt=moment).order_by(
        "at", "pk"
    )
    return findings.annotate(
        status_then=Coalesce(Subquery(after.values("from_status")[:1]), F("status")),
        deadline_then=Case(
            When(Exists(after), then=Subquery(after.values("deadline")[:1])),
            default=F("deadline"),
        ),
    )


def _text(params: Any, key: str, limit: int = 50) -> str:
    value = params.get(key)
    return str(value)[:limit].strip() if value else ""


def _int(params: Any, key: str) -> int | None:
    value = _text(params, key, 12)
    return int(value) if value.isdigit() else None


def filter_engagements(engagements: QuerySet[Engagement], params: Any) -> QuerySet[Engagement]:
    status = _text(params, "status")
    if status in EngagementStatus.values:
        engagements = engagements.filter(status=status)
    kind = _text(params, "kind")
    if kind in EngagementKind.values:
        engagements = engagements.filter(kind=kind)
    org = _int(params, "organisation")
    if org is not None:
        engagements = engagements.filter(organisation_id=org)
    q = _text(params, "q", 200)
    if q:
        engagements = engagements.filter(Q(title__icontains=q) | Q(organisation__name__icontains=q))
    return engagements


def filter_findings(
    findings: QuerySet[Finding], params: Any, now: datetime | None = None
) -> QuerySet[Finding]:
    """Filters of the findings list and API: status (or "active", the default on pages is
    set by the caller), severity, agency, engagement, host, CVE, tool, due (soon/overdue),
    free text."""
    now = now or timezone.now()
    status = _text(params, "status")
    if status == "active":
        findings = findings.filter(status__in=ACTIVE_STATUSES)
    elif status in FindingStatus.values:
        findings = findings.filter(status=status)
    severity = _text(params, "severity")
    if severity in Severity.values:
        findings = findings.filter(severity=severity)
    for key, column in (("organisation", "organisation_id"), ("engagement", "engagement_id")):
        value = _int(params, key)
        if value is not None:
            findings = findings.filter(**{column: value})
    host = _text(params, "host", 255)
    if host:
        findings = findings.filter(host=host.lower())
    tool = _text(params, "tool")
    if tool:
        findings = findings.filter(tool=tool)
    cve = _text(params, "cve", 30).upper()
    if cve:
        findings = findings.filter(cve_rows__cve=cve)
    due = _text(params, "due")
    if due == "overdue":
        findings = findings.filter(status__in=OPEN_STATUSES, deadline__lt=now)
    elif due == "soon":
        findings = findings.filter(
            status__in=OPEN_STATUSES, deadline__gte=now, deadline__lt=now + SOON
        )
    if _text(params, "kev") in ("1", "true", "yes"):
        findings = findings.filter(kev=True)
    q = _text(params, "q", 200)
    if q:
        findings = findings.filter(
            Q(title__icontains=q) | Q(host__icontains=q) | Q(rule_id__iexact=q)
        )
    return findings


def engagement_findings(engagement: Engagement, user: Reader) -> QuerySet[Finding]:
    """The findings an engagement found first or saw again in one of its imports."""
    return (
        Finding.objects.visible_to(user)
        .filter(Q(engagement=engagement) | Q(decisions__scan__engagement=engagement))
        .distinct()
    )


@dataclass
class Dashboard:
    open_by_severity: list[tuple[str, str, int]] = field(default_factory=list)
    open_total: int = 0
    overdue: int = 0
    due_soon: int = 0
    fixed_awaiting_retest: int = 0
    risk_accepted: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    mean_days_to_remediate: float | None = None
    by_organisation: list[dict[str, Any]] = field(default_factory=list)
    by_sector: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sla_compliance(self) -> float | None:
        """Share of findings remediated on time, counting those still open past their
        deadline as late."""
        late = self.resolved_late + self.overdue
        total = self.resolved_on_time + late
        return None if total == 0 else round(100 * self.resolved_on_time / total, 1)


def _resolved_at() -> Any:
    return Coalesce("fixed_at", "mitigated_at", "closed_at")


def dashboard(
    findings: QuerySet[Finding],
    now: datetime | None = None,
    *,
    national: bool = False,
    tally: QuerySet[FindingTally] | None = None,
) -> Dashboard:
    """The figures of a set of findings (already narrowed by `visible_to`): open by
    severity, overdue, due soon, SLA compliance, mean time to remediate; with `national`,
    the same per agency and per sector.

    `tally`: the same agencies' `FindingTally` rows (`FindingTally.objects.visible_to`,
    narrowed to an agency as `findings` is), when `findings` is whole agencies' findings
    (the dashboards, not an engagement's): the counts are then read from it, a few
    hundred rows instead of every finding (issue 23: p95 <= 300 ms at 1 M findings)."""
    now = now or timezone.now()
    board = Dashboard()
    labels = dict(Severity.choices)
    if tally is not None:
        counted = _from_tally(board, tally, now, national=national)
        board.open_by_severity = [(s, str(labels[s]), counted.get(s, 0)) for s in SEVERITY_ORDER]
        board.open_total = sum(counted.values())
    else:
        _count(board, findings, now, national=national)
    # Mean time to remediate over at most the latest 20,000 resolved findings, averaged by
    # the database (reading the 40,000 dates into Python was most of a dashboard's time
    # at 1 M findings) through the partial index of resolved findings. Counted from the
    # CERT's first record of the finding (`recorded_at`), not the tool's own date
    # (`first_seen`), which can be years before the import.
    latest = (
        findings.filter(RESOLVED_ROWS)
        .order_by("-pk")
        .annotate(days=_Days(_resolved_at()) - _Days(F("recorded_at")))[:20000]
    )
    mean = latest.aggregate(mean=Avg("days"))["mean"]
    if mean is not None:
        board.mean_days_to_remediate = round(float(mean), 1)
    return board


def dashboard_at(findings: QuerySet[Finding], moment: datetime) -> Dashboard:
    """The figures of `findings` as they stood at `moment` (the annual report: the year's
    findings at the year's end), from their status history (`status_at`): open by
    severity, overdue, fixed awaiting retest, risk accepted, resolved (fixed, closed or
    mitigated by then) on time or late, and their mean days to remediate."""
    board = Dashboard()
    labels = dict(Severity.choices)
    resolved = (FindingStatus.FIXED, FindingStatus.CLOSED, FindingStatus.MITIGATED)
    # when it was last resolved before the moment (the dates on the finding are cleared
    # when it is reopened later), else the dates it carries
    resolved_when = Coalesce(
        Subquery(
            StatusChange.objects.filter(
                finding_id=OuterRef("pk"), at__lte=moment, to_status__in=resolved
            )
            .order_by("-at", "-pk")
            .values("at")[:1]
        ),
        _resolved_at(),
    )
    then = status_at(findings, moment).annotate(resolved_when=resolved_when)
    counts = dict(
        then.filter(Q(status_then__in=ACTIVE_STATUSES))
        .values_list("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
        .order_by()
    )
    board.open_by_severity = [(s, str(labels[s]), counts.get(s, 0)) for s in SEVERITY_ORDER]
    board.open_total = sum(counts.values())
    was_resolved = Q(status_then__in=resolved, resolved_when__isnull=False)
    figures = then.aggregate(
        overdue=Count("pk", filter=Q(status_then__in=OPEN_STATUSES, deadline_then__lt=moment)),
        fixed=Count("pk", filter=Q(status_then=FindingStatus.FIXED)),
        accepted=Count("pk", filter=Q(status_then=FindingStatus.RISK_ACCEPTED)),
        on_time=Count("pk", filter=was_resolved & Q(resolved_when__lte=F("deadline_then"))),
        late=Count("pk", filter=was_resolved & Q(resolved_when__gt=F("deadline_then"))),
        mean=Avg(_Days(F("resolved_when")) - _Days(F("recorded_at")), filter=was_resolved),
    )
    board.overdue = figures["overdue"]
    board.fixed_awaiting_retest = figures["fixed"]
    board.risk_accepted = figures["accepted"]
    board.resolved_on_time = figures["on_time"]
    board.resolved_late = figures["late"]
    if figures["mean"] is not None:
        board.mean_days_to_remediate = round(float(figures["mean"]), 1)
    return board


class _Days(Func):
    """A date-time as days since an epoch (a float), for differences in the database:
    SQLite's julianday(), PostgreSQL's epoch seconds / 86400."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="julianday", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM %(expressions)s) / 86400.0)",
            **extra,
        )


def _from_tally(
    board: Dashboard, tally: QuerySet[FindingTally], now: datetime, *, national: bool
) -> dict[str, int]:
    """The counts from the maintained tally (a few rows per agency, status, severity and
    deadline), as `_count` computes them from the findings; open counts by severity."""
    open_statuses = {str(s) for s in OPEN_STATUSES}
    active = {str(s) for s in ACTIVE_STATUSES}
    soon = now + SOON
    by_severity: dict[str, int] = {}
    per_org: dict[int, dict[str, int]] = {}
    overdue_org: dict[int, int] = {}
    rows = (
        tally.values_list("organisation_id", "status", "severity", "deadline", "resolved")
        .annotate(total=Sum("n"))
        .order_by()
    )
    for org_id, status, severity, deadline, resolved, n in rows:
        if not n:
            continue
        if status in active:
            by_severity[severity] = by_severity.get(severity, 0) + n
            counts = per_org.setdefault(org_id, {})
            counts[severity] = counts.get(severity, 0) + n
        if status in open_statuses and deadline is not None:
            if deadline < now:
                board.overdue += n
                overdue_org[org_id] = overdue_org.get(org_id, 0) + n
            elif deadline < soon:
                board.due_soon += n
        if status == FindingStatus.FIXED:
            board.fixed_awaiting_retest += n
        elif status == FindingStatus.RISK_ACCEPTED:
            board.risk_accepted += n
        if resolved == TallyResolved.ON_TIME:
            board.resolved_on_time += n
        elif resolved == TallyResolved.LATE:
            board.resolved_late += n
    if national:
        orgs = {
            o["pk"]: o
            for o in Organisation.objects.filter(pk__in=list(per_org)).values(
                "pk", "name", "sector__name"
            )
        }
        entries: list[dict[str, Any]] = []
        per_sector: dict[str, dict[str, Any]] = {}
        for org_id, counts in per_org.items():
            if org_id not in orgs or not sum(counts.values()):
                continue
            org = orgs[org_id]
            entry: dict[str, Any] = {
                "id": org_id,
                "name": org["name"],
                "total": sum(counts.values()),
                **{s: counts.get(s, 0) for s in SEVERITY_ORDER},
                "overdue": overdue_org.get(org_id, 0),
            }
            entries.append(entry)
            name = org["sector__name"] or "—"
            sector = per_sector.setdefault(
                name, {"name": name, "total": 0, **{s: 0 for s in SEVERITY_ORDER}}
            )
            for s, n in counts.items():
                sector[s] += n
                sector["total"] += n
        entries.sort(key=lambda e: e["name"])
        board.by_organisation = sorted(entries, key=lambda e: -e["total"])
        board.by_sector = sorted(per_sector.values(), key=lambda e: -e["total"])
    return by_severity


def _count(board: Dashboard, findings: QuerySet[Finding], now: datetime, *, national: bool) -> None:
    """The counts read from the findings themselves (any set of them: an engagement's)."""
    labels = dict(Severity.choices)
    counts = dict(
        findings.filter(status__in=ACTIVE_STATUSES)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    board.open_by_severity = [(s, str(labels[s]), counts.get(s, 0)) for s in SEVERITY_ORDER]
    board.open_total = sum(counts.values())
    figures = findings.aggregate(
        overdue=Count("pk", filter=Q(status__in=OPEN_STATUSES, deadline__lt=now)),
        soon=Count(
            "pk", filter=Q(status__in=OPEN_STATUSES, deadline__gte=now, deadline__lt=now + SOON)
        ),
        fixed=Count("pk", filter=Q(status=FindingStatus.FIXED)),
        accepted=Count("pk", filter=Q(status=FindingStatus.RISK_ACCEPTED)),
    )
    board.overdue = figures["overdue"]
    board.due_soon = figures["soon"]
    board.fixed_awaiting_retest = figures["fixed"]
    board.risk_accepted = figures["accepted"]
    resolved = findings.annotate(resolved=_resolved_at()).filter(
        resolved__isnull=False, deadline__isnull=False
    )
    timing = resolved.aggregate(
        on_time=Count("pk", filter=Q(resolved__lte=F("deadline"))),
        late=Count("pk", filter=Q(resolved__gt=F("deadline"))),
    )
    board.resolved_on_time = timing["on_time"]
    board.resolved_late = timing["late"]
    if national:
        rows = (
            findings.filter(status__in=ACTIVE_STATUSES)
            .values("organisation_id", "organisation__name", "severity")
            .annotate(n=Count("pk"))
            .order_by("organisation__name")
        )
        per_org: dict[int, dict[str, Any]] = {}
        for row in rows:
            entry = per_org.setdefault(
                row["organisation_id"],
                {
                    "id": row["organisation_id"],
                    "name": row["organisation__name"],
                    "total": 0,
                    **{s: 0 for s in SEVERITY_ORDER},
                },
            )
            entry[row["severity"]] = row["n"]
            entry["total"] += row["n"]
        overdue = dict(
            findings.filter(status__in=OPEN_STATUSES, deadline__lt=now)
            .values_list("organisation_id")
            .annotate(n=Count("pk"))
            .values_list("organisation_id", "n")
        )
        for org_id, entry in per_org.items():
            entry["overdue"] = overdue.get(org_id, 0)
        board.by_organisation = sorted(per_org.values(), key=lambda e: -e["total"])
        sectors = (
            findings.filter(status__in=ACTIVE_STATUSES)
            .values("organisation__sector__name", "severity")
            .annotate(n=Count("pk"))
        )
        per_sector: dict[str, dict[str, Any]] = {}
        for sector in sectors:
            name = sector["organisation__sector__name"] or "—"
            entry = per_sector.setdefault(
                name, {"name": name, "total": 0, **{s: 0 for s in SEVERITY_ORDER}}
            )
            entry[sector["severity"]] = sector["n"]
            entry["total"] += sector["n"]
        board.by_sector = sorted(per_sector.values(), key=lambda e: -e["total"])


def home_figures(user: Reader) -> dict[str, Any]:
    """The home page's count of findings still to remediate, as the findings dashboard
    counts them (fixed ones wait for the CERT's retest); registered with core."""
    counted = (
        FindingTally.objects.visible_to(user)
        .filter(status__in=ACTIVE_STATUSES)
        .aggregate(total=Sum("n"))["total"]
    )
    return {"counts": {"open_findings": counted or 0}}


def agencies_with_open_findings(user: Reader, cves: list[str]) -> list[dict[str, Any]]:
    """For an advisory's page: the agencies the reader may see with findings still open
    for one of these CVEs, and how many."""
    if not cves:
        return []
    rows = (
        Finding.objects.visible_to(user)
        .filter(status__in=ACTIVE_STATUSES, cve_rows__cve__in=[c.upper() for c in cves])
        .values("organisation_id", "organisation__name")
        .annotate(n=Count("pk", distinct=True))
        .order_by("organisation__name")
    )
    first = sorted(c.upper() for c in cves)[0]
    return [
        {"id": r["organisation_id"], "name": r["organisation__name"], "count": r["n"], "cve": first}
        for r in rows
    ]


def advisory_panel(user: Reader, advisory: Any) -> list[dict[str, Any]]:
    """Registered on the advisory page (`advisories.selectors.DETAIL_PANELS`)."""
    cves = [str(c.get("id", "")) for c in advisory.cves or [] if isinstance(c, dict)]
    return agencies_with_open_findings(user, [c for c in cves if c])


def incident_panel(user: Reader, incident: Any) -> list[Finding]:
    """Registered on the incident page (`incidents.selectors.DETAIL_PANELS`): the findings
    the reader may see that were reported as this incident."""
    return list(
        Finding.objects.visible_to(user)
        .filter(incident_id=incident.pk)
        .select_related("engagement")
        .order_by("pk")[:20]
    )


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9.+]+", text.lower()) if len(w) >= 3}


def inventory_matches(user: Reader, finding: Finding) -> list[InventoryItem]:
    """The products of the finding's agency in the asset inventory that the finding names:
    a CPE of the product among the finding's texts, or the product's name in its title,
    service or rule (e.g. Nessus' "Apache HTTP Server < 2.4.58" and the inventory's
    "apache http_server"). Read through the inventory's own `visible_to`."""
    items = list(
        InventoryItem.objects.visible_to(user).filter(organisation_id=finding.organisation_id)[:500]
    )
    if not items:
        return []
    text = " ".join((finding.title, finding.service, finding.rule_id, finding.evidence[:2000]))
    lowered = text.lower()
    words = _words(text.replace("_", " "))
    found: list[InventoryItem] = []
    for item in items:
        cpe = item.cpe.lower()
        if cpe:
            parts = cpe.split(":")
            # cpe:2.3:a:vendor:product:... -> "vendor:product" as written in CPE 2.2 / 2.3
            if len(parts) > 4 and f"{parts[3]}:{parts[4]}" in lowered:
                found.append(item)
                continue
        product = item.product.lower().replace("_", " ").strip()
        if not product:
            continue
        names = _words(product)
        if names and names <= words:
            found.append(item)
    return found


def scanned_hosts(engagement: Engagement, limit: int = 500) -> list[dict[str, Any]]:
    """The engagement's scanned hosts (at most `limit`), each with its open ports, for its
    page (the engagement is already read through `visible_to`)."""
    hosts: dict[str, dict[str, Any]] = {}
    for row in engagement.services.order_by("host", "port", "protocol")[: limit * 20]:
        entry = hosts.setdefault(
            row.host, {"host": row.host, "product": "", "ports": [], "last_seen": row.last_seen}
        )
        if row.port:
            entry["ports"].append(row)
        else:
            entry["product"] = row.product
        entry["last_seen"] = max(entry["last_seen"], row.last_seen)
        if len(hosts) > limit:
            hosts.pop(row.host)
            break
    return list(hosts.values())
