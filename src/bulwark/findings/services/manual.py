"""Manual findings (audits and health checks) and the CERT's checklists."""

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.findings import engine
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    RESPONSIBILITY_LEVELS,
    Checklist,
    ChecklistItem,
    ChecklistOutcome,
    ChecklistResult,
    Engagement,
    EngagementKind,
    Finding,
    FindingCve,
    Severity,
)
from bulwark.findings.services.common import (
    KEPT_WHEN_SEEN,
    candidate_order,
    deadline_for,
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
            key=candidate_order,
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
            deadline=deadline_for(engagement, severity, now),
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
    actor: User,
    *,
    kind: str,
    title: str,
    items: Iterable[tuple[str, str, str, str]],
    level: str | None = None,
) -> Checklist:
    """Create or replace the CERT's checklist `title` for one kind of engagement; items are
    (reference, title, severity, guidance). `level`: the agencies' responsibility level it
    is for ("" any; None keeps what the checklist had)."""
    require(actor, "findings.plan")
    rows = list(items)
    if kind not in EngagementKind.values:
        raise ValidationError({"kind": _("Unknown engagement kind.")})
    if not title.strip():
        raise ValidationError({"title": _("A checklist needs a title.")})
    if level is not None and level not in ("", *RESPONSIBILITY_LEVELS):
        raise ValidationError({"level": _("Unknown responsibility level.")})
    if not rows:
        raise ValidationError({"items": _("A checklist needs at least one item.")})
    refs = [r[0].strip() for r in rows]
    if any(not ref for ref in refs) or len(set(refs)) != len(refs):
        raise ValidationError({"items": _("Each item needs its own reference.")})
    if any(not r[1].strip() for r in rows):
        raise ValidationError({"items": _("Each item needs a title.")})
    for ref, _title, severity, _guidance in rows:
        if severity not in Severity.values:
            raise ValidationError({"items": _("Unknown severity for %(ref)s.") % {"ref": ref}})
    with transaction.atomic():
        defaults: dict[str, object] = {"active": True}
        if level is not None:
            defaults["level"] = level
        checklist, _created = Checklist.objects.update_or_create(
            kind=kind, title=title, defaults=defaults
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
        audit.record(
            actor,
            "findings.checklist_saved",
            checklist,
            changes={"items": len(rows), "level": checklist.level},
        )
    return checklist


def retire_checklist(actor: User, checklist: Checklist) -> Checklist:
    """Take a checklist out of use (its items' results and findings stay)."""
    require(actor, "findings.plan")
    with transaction.atomic():
        Checklist.objects.filter(pk=checklist.pk).update(active=False)
        checklist.active = False
        audit.record(actor, "findings.checklist_retired", checklist)
    return checklist


def record_checklist_result(
    actor: User,
    engagement: Engagement,
    item: ChecklistItem,
    *,
    result: str,
    note: str = "",
    host: str = "",
    url: str = "",
) -> ChecklistResult:
    """An item of the engagement's checklist passed, failed or does not apply. A failed
    item becomes a manual finding (its title, severity and reference; the note as the
    description, else the item's guidance) unless the engagement's result already has one
    or the same problem is already tracked (then that finding is linked). Recorded again,
    the result is replaced; a finding already made stays (it is retested like any)."""
    require(actor, "findings.plan", engagement)
    if result not in ChecklistOutcome.values:
        raise ValidationError({"result": _("The result is pass, fail or not_applicable.")})
    if item.checklist.kind != engagement.kind:
        raise ValidationError(
            {"item": _("This checklist item is not for this kind of engagement.")}
        )
    with transaction.atomic():
        row = (
            ChecklistResult.objects.select_for_update()
            .filter(engagement=engagement, item=item)
            .first()
        )
        if row is None:
            row = ChecklistResult(engagement=engagement, item=item, recorded_by=actor)
        row.result, row.note, row.recorded_by = result, note.strip(), actor
        if result == ChecklistOutcome.FAIL and row.finding_id is None:
            row.finding = _failed_item_finding(actor, engagement, item, row.note, host, url)
        row.save()
        audit.record(
            actor,
            "findings.checklist_result",
            engagement,
            organisation_id=engagement.organisation_id,
            changes={"item": item.ref, "result": result, "finding": row.finding_id},
        )
    return row


def _failed_item_finding(
    actor: User, engagement: Engagement, item: ChecklistItem, note: str, host: str, url: str
) -> Finding:
    try:
        return add_manual_finding(
            actor,
            engagement,
            title=item.title,
            severity=item.severity,
            host=host,
            url=url,
            description=note or item.guidance,
            checklist_item=item,
        )
    except ValidationError:
        parsed = engine.ParsedFinding(
            tool="manual",
            rule_id=item.ref,
            title=item.title,
            severity=item.severity,  # type: ignore[arg-type]
            asset=engine.Asset(host=host.strip().lower(), url=url.strip()),
        )
        tracked = Finding.objects.filter(
            organisation_id=engagement.organisation_id,
            fingerprint=engine.fingerprint(parsed),
            status__in=(*ACTIVE_STATUSES, *KEPT_WHEN_SEEN),
        ).first()
        if tracked is None:
            raise
        return tracked
