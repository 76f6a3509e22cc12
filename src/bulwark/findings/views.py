"""Pages of the findings app: dashboards, engagements, imports, findings and their
workflow. Reads go through `visible_to`; writes through services."""

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.access import acting_user, viewer_of
from bulwark.constituency.models import Membership, Organisation, OrganisationKind, User
from bulwark.constituency.views import run_service
from bulwark.core import csvexport
from bulwark.core.permissions import can
from bulwark.findings import forms, selectors, services, tasks
from bulwark.findings.engine import csvmap
from bulwark.findings.models import (
    Checklist,
    ChecklistOutcome,
    DedupeOutcome,
    Engagement,
    EngagementKind,
    EngagementStatus,
    Finding,
    FindingStatus,
    FindingTally,
    RemediationEvent,
    RiskAcceptance,
    RiskAcceptanceState,
    ScanImport,
    ScanImportState,
    Severity,
)
from bulwark.incidents.models import Incident

# Files up to this size are imported while the page waits; larger ones by the worker.
INLINE_IMPORT_BYTES = 20 * 1024 * 1024


def _params(request: HttpRequest) -> dict[str, str]:
    return {k: str(v)[:200] for k, v in request.GET.items()}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The agency's figures (its own findings, an authority's agencies), or the national
    figures for the CERT."""
    viewer = viewer_of(request.user)
    findings = Finding.objects.visible_to(request.user)
    tally = FindingTally.objects.visible_to(request.user)
    org = selectors._int(request.GET, "organisation")
    if org is not None:
        findings = findings.filter(organisation_id=org)
        tally = tally.filter(organisation_id=org)
    national = viewer.sees_everything and org is None
    board = selectors.dashboard(
        findings, national=national or bool(viewer.supervised_org_ids), tally=tally
    )
    engagements = (
        Engagement.objects.visible_to(request.user)
        .exclude(status__in=[EngagementStatus.CLOSED, EngagementStatus.CANCELLED])
        .select_related("organisation")[:10]
    )
    return render(
        request,
        "findings/dashboard.html",
        {
            "board": board,
            "national": national,
            "engagements": engagements,
            "organisation": (
                Organisation.objects.visible_to(request.user).filter(pk=org).first()
                if org
                else None
            ),
            "can_plan": can(request.user, "findings.plan"),
        },
    )


@login_required
def engagement_list(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    engagements = selectors.filter_engagements(
        Engagement.objects.visible_to(request.user).select_related("organisation", "lead"),
        params,
    )
    page = Paginator(engagements, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "findings/engagement_list.html",
        {
            "page": page,
            "params": params,
            "statuses": EngagementStatus.choices,
            "kinds": EngagementKind.choices,
            "can_plan": can(request.user, "findings.plan"),
        },
    )


def _staff() -> QuerySet[User]:
    ids = Membership.objects.filter(organisation__kind=OrganisationKind.NATIONAL_CERT).values_list(
        "user_id", flat=True
    )
    return cast(
        QuerySet[User], User.objects.filter(pk__in=ids, is_active=True).order_by("username")
    )


@login_required
def engagement_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "findings.plan"):
        raise PermissionDenied
    organisations = Organisation.objects.filter(is_active=True).order_by("name")
    form = forms.EngagementForm(request.POST or None, organisations=organisations, staff=_staff())
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        org = data.pop("organisation")
        engagement = run_service(
            form, lambda: services.create_engagement(acting_user(request), org, **data)
        )
        if engagement is not None:
            messages.success(request, _("Engagement planned."))
            return redirect("findings-engagement", pk=engagement.pk)
    return render(
        request,
        "findings/engagement_form.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def engagement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_object_or_404(
        Engagement.objects.visible_to(request.user).select_related("organisation", "lead"), pk=pk
    )
    findings = selectors.engagement_findings(engagement, request.user)
    board = selectors.dashboard(findings)
    page = Paginator(selectors.filter_findings(findings, request.GET).order_by("-pk"), 50).get_page(
        request.GET.get("page")
    )
    may_plan = can(request.user, "findings.plan", engagement)
    manual = forms.ManualFindingForm(items=selectors.checklist_items(engagement))
    return render(
        request,
        "findings/engagement_detail.html",
        {
            "engagement": engagement,
            "board": board,
            "page": page,
            "imports": engagement.imports.all()[:20],
            "can_plan": may_plan,
            "next_statuses": [
                (s, EngagementStatus(s).label)
                for s in services.ENGAGEMENT_FLOW.get(engagement.status, ())
            ],
            "import_form": forms.ImportForm(),
            "manual_form": manual,
            "team": engagement.team.all(),
            "scope_items": engagement.scope_items.all(),
            "scanned_hosts": selectors.scanned_hosts(engagement),
            "checklist": selectors.checklist_rows(engagement),
            "checklist_outcomes": ChecklistOutcome.choices,
        },
    )


@login_required
@require_POST
def checklist_result(request: HttpRequest, pk: int) -> HttpResponse:
    """Record one checklist item's result from the engagement's page (CERT staff): a
    failed item becomes a finding."""
    engagement = get_object_or_404(Engagement.objects.visible_to(request.user), pk=pk)
    if not can(request.user, "findings.plan", engagement):
        raise PermissionDenied
    item_id = str(request.POST.get("item", ""))
    item = (
        selectors.checklist_items(engagement).filter(pk=int(item_id)).first()
        if item_id.isdigit()
        else None
    )
    if item is None:
        messages.error(request, _("This item is not on the engagement's checklist."))
        return redirect("findings-engagement", pk=pk)
    try:
        row = services.record_checklist_result(
            acting_user(request),
            engagement,
            item,
            result=str(request.POST.get("result", "")),
            note=str(request.POST.get("note", ""))[:2000],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(ref)s recorded: %(result)s.")
            % {"ref": item.ref, "result": row.get_result_display()},
        )
    return redirect("findings-engagement", pk=pk)


@login_required
@require_POST
def engagement_status(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_object_or_404(Engagement.objects.visible_to(request.user), pk=pk)
    try:
        services.change_engagement_status(
            acting_user(request),
            engagement,
            str(request.POST.get("status", ""))[:20],
            str(request.POST.get("note", ""))[:5000],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("findings-engagement", pk=pk)


@login_required
def engagement_import(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_object_or_404(Engagement.objects.visible_to(request.user), pk=pk)
    if not can(request.user, "findings.plan", engagement):
        raise PermissionDenied
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        scan = run_service(
            form,
            lambda: services.receive_scan(
                acting_user(request),
                engagement,
                upload,
                upload.name,
                tool=form.cleaned_data["tool"] or None,
                full_rescan=form.cleaned_data["full_rescan"],
            ),
        )
        if scan is not None and services.kept_tool(scan) == "csv":
            # a CSV's columns are confirmed (or mapped) on the next page, with a preview
            return redirect("findings-import-mapping", pk=scan.pk)
        if scan is not None:
            return _process(request, scan)
    return render(
        request,
        "findings/import_form.html",
        {"form": form, "engagement": engagement},
        status=400 if request.method == "POST" else 200,
    )


def _process(request: HttpRequest, scan: ScanImport) -> HttpResponse:
    """Import a kept file while the page waits, or hand a large one to the worker."""
    if scan.size > INLINE_IMPORT_BYTES:
        tasks.process_scan.enqueue(scan.pk)
        messages.info(request, _("The file is kept; the worker imports it now."))
        return redirect("findings-import", pk=scan.pk)
    result = services.process_scan(acting_user(request), scan)
    if result.ok:
        messages.success(
            request,
            _("Imported: %(new)d new, %(dup)d duplicate, %(mit)d mitigated, %(re)d reopened.")
            % {
                "new": result.new,
                "dup": result.duplicate,
                "mit": result.mitigated,
                "re": result.reopened,
            },
        )
    else:
        messages.error(request, _("The file was refused: %(why)s") % {"why": result.error})
    return redirect("findings-import", pk=scan.pk)


@login_required
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """A kept CSV file's columns mapped to our fields, with the first rows as they read
    and as findings; "Import" stores the mapping and imports the file."""
    scan = get_object_or_404(
        ScanImport.objects.visible_to(request.user).select_related("engagement"), pk=pk
    )
    if not can(request.user, "findings.plan", scan.engagement):
        raise PermissionDenied
    if scan.state == ScanImportState.PROCESSED:
        return redirect("findings-import", pk=scan.pk)
    posted: dict[str, str] | None = None
    if request.method == "POST":
        posted = {name: str(request.POST.get(f"map-{name}", ""))[:200] for name in csvmap.FIELDS}
    preview = services.preview_csv(scan, posted)
    if request.method == "POST" and request.POST.get("action") == "import" and not preview.error:
        try:
            scan = services.map_columns(acting_user(request), scan, posted or {})
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return _process(request, scan)
    fields = [
        {
            "name": name,
            "label": forms.CSV_FIELD_LABELS.get(name, name),
            "selected": preview.columns.get(name, ""),
            "required": name in ("title", "severity"),
        }
        for name in csvmap.FIELDS
    ]
    return render(
        request,
        "findings/import_mapping.html",
        {"scan": scan, "preview": preview, "fields": fields},
        status=400 if request.method == "POST" and preview.error else 200,
    )


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(
        ScanImport.objects.visible_to(request.user).select_related("engagement"), pk=pk
    )
    decisions = scan.decisions.select_related("finding").order_by("pk")
    page = Paginator(decisions, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "findings/import_detail.html",
        {"scan": scan, "page": page},
    )


@login_required
def import_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    scan = get_object_or_404(ScanImport.objects.visible_to(request.user), pk=pk)
    try:
        stream = services.open_kept(scan.sha256)
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(stream, as_attachment=True, filename=scan.file_name)


@login_required
@require_POST
def manual_finding(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_object_or_404(Engagement.objects.visible_to(request.user), pk=pk)
    form = forms.ManualFindingForm(
        request.POST,
        items=selectors.checklist_items(engagement),
    )
    if form.is_valid():
        data = dict(form.cleaned_data)
        data["cves"] = [c for c in data.get("cves", "").replace(",", " ").split() if c]
        try:
            finding = services.add_manual_finding(acting_user(request), engagement, **data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("findings-finding", pk=finding.pk)
    else:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("findings-engagement", pk=pk)


CSV_COLUMNS = (
    "pk",
    "organisation__name",
    "engagement_id",
    "title",
    "severity",
    "cvss_score",
    "status",
    "host",
    "port",
    "url",
    "tool",
    "rule_id",
    "first_seen",
    "last_seen",
    "deadline",
    "mitigated_at",
    "closed_at",
)


@login_required
def finding_list(request: HttpRequest) -> HttpResponseBase:
    params = _params(request)
    if "status" not in params:
        params["status"] = "active"
    findings = selectors.filter_findings(
        Finding.objects.visible_to(request.user).select_related("organisation"), params
    ).order_by("-pk")
    if params.get("format") == "csv":
        values = findings.values_list(*CSV_COLUMNS).iterator(chunk_size=2000)
        return csvexport.response("findings.csv", CSV_COLUMNS, values)
    page = Paginator(findings, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "findings/finding_list.html",
        {
            "page": page,
            "params": params,
            "statuses": FindingStatus.choices,
            "severities": Severity.choices,
        },
    )


def _finding(request: HttpRequest, pk: int) -> Finding:
    return get_object_or_404(
        Finding.objects.visible_to(request.user).select_related(
            "organisation", "engagement", "assignee", "inventory_item", "checklist_item"
        ),
        pk=pk,
    )


@login_required
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    decisions = finding.decisions.select_related("scan", "scan__engagement")[:50]
    people = User.objects.filter(
        pk__in=Membership.objects.filter(organisation_id=finding.organisation_id).values("user_id"),
        is_active=True,
    ).order_by("username")
    pending = finding.acceptances.filter(state=RiskAcceptanceState.PENDING).first()
    return render(
        request,
        "findings/finding_detail.html",
        {
            "finding": finding,
            "decisions": decisions,
            "events": finding.events.select_related("actor"),
            "acceptances": finding.acceptances.select_related("requested_by", "decided_by"),
            "pending": pending,
            "may_decide": pending is not None
            and can(request.user, "findings.approve_acceptance", pending),
            "may_work": can(request.user, "findings.work", finding),
            "may_retest": can(request.user, "findings.retest", finding),
            "assign_form": forms.AssignForm(people=people),
            "fix_form": forms.FixForm(),
            "risk_form": forms.RiskForm(),
            "note_form": forms.NoteForm(),
            "outcomes": DedupeOutcome,
            # the incident it became, when the reader may read it (else only its mention)
            "incident": (
                Incident.objects.visible_to(request.user).filter(pk=finding.incident_id).first()
                if finding.incident_id
                else None
            ),
            "may_report": can(request.user, "incident.report", finding.organisation),
            "inventory_matches": (
                []
                if finding.inventory_item_id
                else selectors.inventory_matches(request.user, finding)
            ),
        },
    )


def _run(request: HttpRequest, call: Callable[[], Any], done: str) -> None:
    try:
        call()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)


@login_required
@require_POST
def finding_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    finding = _finding(request, pk)
    actor = acting_user(request)
    note = str(request.POST.get("note", ""))[:5000]
    if action == "assign":
        people = User.objects.filter(is_active=True)
        form = forms.AssignForm(request.POST, people=people)
        if not form.is_valid():
            messages.error(request, _("Choose someone to assign."))
        else:
            person = form.cleaned_data["assignee"]
            _run(request, lambda: services.assign(actor, finding, person, note), _("Assigned."))
    elif action == "start":
        _run(request, lambda: services.start(actor, finding, note), _("Work started."))
    elif action == "fix":
        upload = request.FILES.get("evidence")
        _run(
            request,
            lambda: services.mark_fixed(
                actor, finding, note, upload, (upload.name or "") if upload else ""
            ),
            _("Marked fixed; the CERT will retest."),
        )
    elif action in ("retest-pass", "retest-fail"):
        passed = action == "retest-pass"
        _run(
            request,
            lambda: services.retest(actor, finding, passed=passed, note=note),
            _("Closed after the retest.") if passed else _("Sent back: the retest failed."),
        )
    elif action == "false-positive":
        _run(
            request,
            lambda: services.mark_false_positive(actor, finding, note),
            _("Marked a false positive."),
        )
    elif action == "report-incident":
        try:
            incident, created = services.report_as_incident(actor, finding)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("findings-finding", pk=pk)
        if created:
            messages.success(
                request, _("Reported as incident %(ref)s.") % {"ref": incident.reference}
            )
        else:
            messages.info(
                request,
                _("This finding was already reported as incident %(ref)s.")
                % {"ref": incident.reference},
            )
        if Incident.objects.visible_to(request.user).filter(pk=incident.pk).exists():
            return redirect("incident-detail", pk=incident.pk)
    elif action == "link-inventory":
        item = (
            InventoryItem.objects.visible_to(request.user)
            .filter(
                organisation_id=finding.organisation_id,
                pk=selectors._int(request.POST, "inventory_item") or 0,
            )
            .first()
        )
        if item is None:
            messages.error(request, _("Choose a product of the agency's inventory."))
        else:
            _run(
                request,
                lambda: services.link_inventory(actor, finding, item),
                _("Linked to the inventory."),
            )
    elif action == "comment":
        _run(request, lambda: services.comment(actor, finding, note), _("Comment added."))
    elif action == "accept-risk":
        risk = forms.RiskForm(request.POST)
        if not risk.is_valid():
            messages.error(request, " ".join(str(e) for errs in risk.errors.values() for e in errs))
        else:
            _run(
                request,
                lambda: services.request_risk_acceptance(actor, finding, **risk.cleaned_data),
                _("Risk acceptance requested; a second person decides."),
            )
    elif action in ("approve-risk", "refuse-risk"):
        acceptance = get_object_or_404(
            RiskAcceptance.objects.filter(finding=finding),
            pk=selectors._int(request.POST, "acceptance") or 0,
        )
        approve = action == "approve-risk"
        _run(
            request,
            lambda: services.decide_risk_acceptance(actor, acceptance, approve=approve, note=note),
            _("Risk accepted.") if approve else _("Risk acceptance refused."),
        )
    else:
        raise Http404
    return redirect("findings-finding", pk=pk)


@login_required
def evidence_file(request: HttpRequest, pk: int, event_pk: int) -> HttpResponseBase:
    finding = _finding(request, pk)
    event = get_object_or_404(
        RemediationEvent.objects.filter(finding=finding).exclude(evidence_sha256=""), pk=event_pk
    )
    try:
        stream = services.open_kept(event.evidence_sha256)
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(stream, as_attachment=True, filename=event.evidence_name)


@login_required
def checklists(request: HttpRequest) -> HttpResponse:
    """The CERT's checklists per engagement kind: read by everyone who records findings,
    written (created or replaced by title) by CERT staff."""
    may_edit = can(request.user, "findings.plan")
    form = forms.ChecklistForm(request.POST or None)
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            saved = run_service(
                form,
                lambda: services.save_checklist(
                    acting_user(request),
                    kind=data["kind"],
                    title=data["title"],
                    items=data["items"],
                    level=data["level"],
                ),
            )
            if saved is not None:
                messages.success(request, _("Checklist saved."))
                return redirect("findings-checklists")
    lists = Checklist.objects.filter(active=True).prefetch_related("items")
    return render(
        request,
        "findings/checklists.html",
        {"checklists": lists, "form": form, "may_edit": may_edit},
        status=400 if request.method == "POST" else 200,
    )
