"""Incident pages: the queue, the report form with guided level, the case page."""

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotFound,
    QueryDict,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.constituency.access import acting_user, viewer_of
from bulwark.constituency.models import Organisation, Role, User
from bulwark.constituency.views import run_service
from bulwark.core import csvexport
from bulwark.core.params import BadParameter
from bulwark.core.permissions import can
from bulwark.incidents import evidence as evidence_service
from bulwark.incidents import forms, interchange, rules, services
from bulwark.incidents.levels import Answers, propose_level
from bulwark.incidents.models import (
    TLP_CHOICES,
    CaseTemplate,
    Evidence,
    FinalReport,
    Incident,
    Referral,
    ResponseTask,
    SavedFilter,
    TimelineEntry,
)
from bulwark.incidents.selectors import detail_panels, filter_incidents, queue_order
from bulwark.incidents.taxonomy import RSIT
from bulwark.incidents.workflow import TRANSITIONS, Status

CSV_COLUMNS = [
    "reference", "organisation__name", "title", "status", "level", "rsit_class", "rsit_type",
    "tlp", "is_drill", "aware_at", "reported_at", "reviewed_at", "recovered_at", "closed_at",
    "next_due_at",
]  # fmt: skip


def _csv_headers() -> list[str]:
    """The columns as the case page names them."""
    fields = [Incident._meta.get_field(c.split("__")[0]) for c in CSV_COLUMNS]
    names = [str(getattr(f, "verbose_name", f.name)) for f in fields]
    return [name[:1].upper() + name[1:] for name in names]


def _answers(data: dict[str, Any]) -> Answers:
    return Answers(
        confidentiality=data["confidentiality"],
        integrity=data["integrity"],
        availability=data["availability"],
        core_system=data["core_system"],
        critical_infrastructure=data["critical_infrastructure"],
        restored_in_time=data["restored_in_time"],
        secret=data["secret"],
    )


# Sortable queue columns: the `sort` parameter -> the column (ties: newest report first).
SORTS = {
    "reference": "reference",
    "title": "title",
    "organisation": "organisation__name",
    "level": "level",
    "status": "status",
    "reported_at": "reported_at",
    "next_due_at": "next_due_at",
    "assignee": "assignee__username",
}


def sorted_queue(incidents: QuerySet[Incident], sort: str) -> QuerySet[Incident]:
    """`?sort=level` or `?sort=-level`; the duty officer's order (nearest deadline) else.
    Empty values (no deadline, nobody assigned) sort last either way."""
    column = SORTS.get(sort.removeprefix("-"))
    if column is None:
        return queue_order(incidents)
    descending = sort.startswith("-")
    first = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
    return incidents.order_by(first, "-reported_at", "-pk")


def _queue(request: HttpRequest, params: Any) -> QuerySet[Incident]:
    incidents: QuerySet[Incident] = Incident.objects.visible_to(request.user)
    try:
        incidents = filter_incidents(incidents, params, request.user)
    except BadParameter as exc:
        messages.error(request, " ".join(exc.messages))
        return incidents.none()
    return sorted_queue(incidents, str(params.get("sort", ""))[:40])


def _csv(incidents: QuerySet[Incident]) -> HttpResponseBase:
    values = incidents.values_list(*CSV_COLUMNS).iterator(chunk_size=2000)
    return csvexport.response("incidents.csv", _csv_headers(), values)


@login_required
def incident_list(request: HttpRequest) -> HttpResponseBase:
    incidents = _queue(request, request.GET)
    if request.GET.get("format") == "csv":
        return _csv(incidents)
    # level_changes feed each row's clocks: one query for the page, not one per row.
    listed = incidents.select_related("organisation", "assignee").prefetch_related("level_changes")
    page = Paginator(listed, 50).get_page(request.GET.get("page"))
    rows = [(i, services.clock_states(i)) for i in page]
    cert = can(request.user, "incident.triage")
    sort_params = request.GET.copy()
    sort_params.pop("page", None)
    sort_params.pop("sort", None)
    return render(
        request,
        "incidents/incident_list.html",
        {
            "page": page,
            "rows": rows,
            "params": request.GET,
            "statuses": list(Status),
            "classes": list(RSIT),
            "tlps": TLP_CHOICES,
            "organisations": _filter_organisations(request),
            "sort": request.GET.get("sort", ""),
            "sort_columns": [
                ("reference", _("Reference")),
                ("title", _("Title")),
                ("organisation", _("Organisation")),
                ("level", _("Level")),
                ("status", _("Status")),
                ("assignee", _("Assignee")),
                ("reported_at", _("Reported at")),
                ("next_due_at", _("Next deadline")),
            ],
            "sort_base": sort_params.urlencode(),
            "saved_filters": SavedFilter.objects.visible_to(request.user),
            "query": request.GET.urlencode(),
            "cert": cert,
            "staff": services.cert_staff_users() if cert else [],
            "now": timezone.now(),
        },
    )


def _filter_organisations(request: HttpRequest) -> QuerySet[Organisation]:
    """The organisations whose incidents the viewer may see (for the queue's filter)."""
    return (
        Organisation.objects.visible_to(request.user)
        .filter(kind__in=services.REPORTING_KINDS)
        .only("pk", "name")
        .order_by("name")
    )


@login_required
@require_POST
def incident_bulk(request: HttpRequest) -> HttpResponseBase:
    """Bulk actions on the queue's ticked cases: each case goes through its own service and
    permission check; a case the viewer cannot see is never touched."""
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()][: services.MAX_BULK]
    action = request.POST.get("action", "")
    back = _query(request.POST.get("back", ""))
    target = f"{reverse('incident-list')}?{back}" if back else reverse("incident-list")
    if not ids:
        messages.error(request, _("Tick at least one case."))
        return redirect(target)
    if action == "csv":
        visible = Incident.objects.visible_to(request.user).filter(pk__in=ids)
        return _csv(queue_order(visible))
    assignee = None
    if action == "assign" and request.POST.get("assignee"):
        assignee = (
            services.cert_staff_users().filter(pk=id_or_none(request.POST["assignee"])).first()
        )
        if assignee is None:
            messages.error(request, _("Choose a CERT staff member."))
            return redirect(target)
    try:
        done, refused = services.bulk_act(acting_user(request), ids, action, assignee=assignee)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(target)
    if done:
        messages.success(
            request,
            _("Done for %(n)d case(s): %(refs)s") % {"n": len(done), "refs": ", ".join(done)},
        )
    for reference, reason in refused.items():
        messages.error(request, f"{reference}: {reason}")
    return redirect(target)


def id_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@login_required
@require_POST
def filter_save(request: HttpRequest) -> HttpResponse:
    form = forms.SavedFilterForm(request.POST)
    if form.is_valid():
        saved = run_service(
            form,
            lambda: services.save_filter(
                acting_user(request), form.cleaned_data["name"], form.cleaned_data["query"]
            ),
        )
        if saved is not None:
            messages.success(request, _("Filter %(name)s saved.") % {"name": saved.name})
            return redirect(f"{reverse('incident-list')}?{saved.query}")
    for error in form.errors.values():
        messages.error(request, " ".join(str(e) for e in error))
    return redirect(f"{reverse('incident-list')}?{_query(request.POST.get('query', ''))}")


def _query(text: str) -> str:
    """A queue query string as posted back by a form, re-encoded (never a raw header value)."""
    return QueryDict(text[:1000]).urlencode()


@login_required
@require_POST
def filter_delete(request: HttpRequest, filter_pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter.objects.visible_to(request.user), pk=filter_pk)
    services.delete_filter(acting_user(request), saved)
    messages.success(request, _("Filter %(name)s deleted.") % {"name": saved.name})
    return redirect("incident-list")


@login_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    """The open tasks a person owns, on cases they can still see, earliest due first."""
    tasks = (
        ResponseTask.objects.visible_to(request.user)
        .filter(owner_id=request.user.pk, done_at__isnull=True)
        .select_related("incident")
        .order_by("due_at")
    )
    return render(request, "incidents/my_tasks.html", {"tasks": tasks, "now": timezone.now()})


@login_required
def case_templates(request: HttpRequest) -> HttpResponse:
    """The CERT's task list per incident class (applied when the response starts)."""
    if not can(request.user, "incident.coordinate"):
        raise PermissionDenied
    form = forms.CaseTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = run_service(
            form,
            lambda: (
                services.save_case_template(acting_user(request), data["rsit_class"], data["tasks"])
                or True
            ),
        )
        if done:
            messages.success(
                request, _("Case template for %(c)s saved.") % {"c": data["rsit_class"]}
            )
            return redirect("incident-templates")
    templates = {t.rsit_class: t for t in CaseTemplate.objects.select_related("updated_by")}
    return render(
        request,
        "incidents/case_templates.html",
        {"form": form, "rows": [(c, templates.get(c)) for c in RSIT]},
    )


def _reporting_organisations(request: HttpRequest) -> Any:
    viewer = viewer_of(request.user)
    orgs = Organisation.objects.visible_to(request.user).filter(kind__in=services.REPORTING_KINDS)
    if can(request.user, "incident.triage"):
        return orgs
    mine = [o for o, roles in viewer.roles.items() if roles & rules.REPORTING_ROLES]
    return orgs.filter(pk__in=mine)


@login_required
def incident_create(request: HttpRequest) -> HttpResponse:
    organisations = _reporting_organisations(request)
    form = forms.ReportForm(request.POST or None, organisations=organisations)
    proposal = None
    if request.method == "POST":
        valid = form.is_valid()
        # The proposal box keeps what the answers propose when the report comes back
        # with errors (it used to reset to its empty prompt).
        answers = form.answers()
        proposal = propose_level(answers) if answers is not None else None
        if valid and answers is not None:
            data = {k: v for k, v in form.cleaned_data.items() if k not in forms.ANSWER_FIELDS}
            org = data.pop("organisation")
            if data["reported_at"] is None:
                data.pop("reported_at")
            incident = run_service(
                form,
                lambda: services.report_incident(
                    acting_user(request), org, answers=answers, **data
                ),
            )
            if incident is not None:
                messages.success(
                    request, _("Incident %(ref)s reported.") % {"ref": incident.reference}
                )
                return redirect("incident-detail", pk=incident.pk)
    return render(
        request,
        "incidents/incident_form.html",
        {"form": form, "proposal": proposal, "can_report": organisations.exists()},
    )


@login_required
@require_POST
def propose(request: HttpRequest) -> HttpResponse:
    """HTMX: the proposed level and its reasons for the answers given so far."""
    form = forms.AnswersForm(request.POST)
    proposal = propose_level(_answers(form.cleaned_data)) if form.is_valid() else None
    return render(request, "incidents/_proposal.html", {"proposal": proposal})


def _can(request: HttpRequest, incident: Incident) -> dict[str, bool]:
    user = acting_user(request)
    open_for = {
        action for action, (states, _target) in TRANSITIONS.items() if incident.status in states
    }
    handle = can(user, "incident.handle", incident)
    cert = can(user, "incident.triage", incident)
    coordinate = can(user, "incident.coordinate", incident)
    return {
        "review": "review" in open_for and can(user, "incident.review", incident),
        "change_level": "change_level" in open_for and handle,
        "respond": "respond" in open_for and cert,
        "note": "note" in open_for and handle,
        "recover": "recover" in open_for and handle,
        "final_report": "submit_final_report" in open_for and handle,
        "decide": "approve_final_report" in open_for and coordinate,
        "extend": "grant_extension" in open_for and coordinate,
        "evidence": handle and incident.status != Status.CLOSED,
        "download_evidence": handle,
        "refer": can(user, "incident.refer", incident),
        "assign": cert and incident.status != Status.CLOSED,
        "tag": handle,
    }


def _forms(cert_staff: bool = False) -> dict[str, Any]:
    return {
        "review": forms.LevelForm(prefix="review"),
        "change_level": forms.LevelForm(prefix="change_level"),
        "note": forms.NoteForm(prefix="note", cert_staff=cert_staff),
        "recover": forms.RecoveryForm(prefix="recover"),
        "final_report": forms.FinalReportForm(prefix="final_report"),
        "decide": forms.DecisionForm(prefix="decide"),
        "extend": forms.ExtensionForm(prefix="extend"),
        "evidence": forms.EvidenceForm(prefix="evidence"),
        "referral": forms.ReferralForm(prefix="referral"),
        "task": forms.TaskForm(prefix="task"),
        "assign": forms.AssignForm(prefix="assign"),
    }


@login_required
def incident_detail(
    request: HttpRequest, pk: int, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    incident = get_object_or_404(
        Incident.objects.visible_to(request.user).select_related(
            "organisation", "reported_by", "reviewed_by", "assignee"
        ),
        pk=pk,
    )
    reports = list(incident.final_reports.select_related("submitted_by")[:2])
    latest, previous = [*reports, None, None][:2]
    report_items = [
        {
            "label": FinalReport._meta.get_field(name).verbose_name,  # type: ignore[union-attr]
            "text": getattr(latest, name),
            "before": getattr(previous, name) if previous is not None else None,
        }
        for name in FinalReport.ITEMS
        if latest is not None
    ]
    # A revision starts from the text the agency submitted last, never from an empty form.
    revision_form = forms.FinalReportForm(
        prefix="final_report",
        initial={name: getattr(latest, name) for name in FinalReport.ITEMS} if latest else None,
    )
    kinds = TimelineEntry.Kind
    kind = request.GET.get("kind", "")
    # The filter offers the kinds this case's timeline holds (one query), not every kind
    present = set(incident.timeline.values_list("kind", flat=True).distinct())
    timeline = incident.timeline.select_related("author")
    if kind in kinds.values:
        timeline = timeline.filter(kind=kind)
    tasks = list(incident.tasks.select_related("owner"))
    open_tasks = [t for t in tasks if t.done_at is None]
    tags = list(incident.tags.values_list("name", flat=True))
    decide = (bound or {}).get("decide") or forms.DecisionForm(prefix="decide")
    if not open_tasks:
        decide.fields.pop("close_with_open_tasks", None)
    context = {
        "incident": incident,
        "clocks": services.clock_states(incident),
        "now": timezone.now(),
        "timeline": timeline,
        "timeline_kinds": [(v, label) for v, label in kinds.choices if v in present],
        "timeline_kind": kind if kind in kinds.values else "",
        "open_tasks": open_tasks,
        "tags": tags,
        "levels": incident.level_changes.select_related("by"),
        "final_report": latest,
        "previous_report": previous,
        "report_items": report_items,
        "evidence": incident.evidence.select_related("uploaded_by").prefetch_related(
            "custody__actor"
        ),
        "referrals": incident.referrals.select_related("organisation", "referred_by"),
        "indicators": incident.indicators.all(),
        **detail_panels(request.user, incident),  # intel's correlations
        "tasks": tasks,
        "needs_ciso_meeting": incident.profile == "tw"
        and incident.level >= 3
        and not incident.timeline.filter(kind="ciso_meeting").exists(),
        "can": _can(request, incident),
        "forms": {
            **_forms(can(request.user, "incident.guide", incident)),
            "final_report": revision_form,
            "tags": forms.TagsForm(prefix="tags", initial={"tags": " ".join(tags)}),
            "assign": forms.AssignForm(prefix="assign", initial={"assignee": incident.assignee_id}),
            **(bound or {}),
            "decide": decide,
        },
        "is_reviewer": viewer_of(request.user).has_role(Role.REVIEWER),
    }
    return render(request, "incidents/incident_detail.html", context, status=status)


ACTIONS: dict[str, tuple[type, Callable[..., Any]]] = {
    "review": (
        forms.LevelForm,
        lambda u, i, d: services.review_incident(u, i, level=d["level"], comment=d["comment"]),
    ),
    "change_level": (
        forms.LevelForm,
        lambda u, i, d: services.change_level(u, i, level=d["level"], reason=d["comment"]),
    ),
    "respond": (type(None), lambda u, i, d: services.start_response(u, i)),
    "note": (forms.NoteForm, lambda u, i, d: services.add_note(u, i, **d)),
    "recover": (forms.RecoveryForm, lambda u, i, d: services.report_recovery(u, i, **d)),
    "final_report": (
        forms.FinalReportForm,
        lambda u, i, d: services.submit_final_report(u, i, **d),
    ),
    "decide": (forms.DecisionForm, lambda u, i, d: services.decide_final_report(u, i, **d)),
    "extend": (forms.ExtensionForm, lambda u, i, d: services.grant_extension(u, i, **d)),
    "assign": (
        forms.AssignForm,
        lambda u, i, d: services.assign_incident(u, i, d["assignee"]),
    ),
    "tags": (
        forms.TagsForm,
        lambda u, i, d: services.set_tags(u, i, services.parse_tags(d["tags"])),
    ),
    "indicator_tags": (
        forms.IndicatorTagsForm,
        lambda u, i, d: services.set_indicator_tags(
            u, i, d["indicator"], services.parse_tags(d["tags"])
        ),
    ),
}


@login_required
@require_POST
def incident_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise PermissionDenied
    incident = get_object_or_404(Incident.objects.visible_to(request.user), pk=pk)
    form_class, call = ACTIONS[action]
    if form_class is type(None):  # a button without fields, e.g. "Start the CERT response"
        try:
            call(acting_user(request), incident, {})
        except ValidationError as exc:
            # Pressed twice, or after a colleague: the workflow refuses; say so on the page
            # (an unbound form cannot carry the error: it used to answer 500).
            for error in exc.messages:
                messages.error(request, error)
        return redirect("incident-detail", pk=pk)
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        data = form.cleaned_data
        if run_service(form, lambda: call(acting_user(request), incident, data) or True):
            return redirect("incident-detail", pk=pk)
        # What the workflow or the rules refused (not a field of this form) is told as a
        # message on the case page, where the form may no longer be offered.
        refusals = form.non_field_errors()
        if refusals:
            for error in refusals:
                messages.error(request, str(error))
            return redirect("incident-detail", pk=pk)
    return incident_detail(request, pk, bound={action: form}, status=400)


# --- Evidence and referrals -------------------------------------------------------------


def _visible_incident(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(Incident.objects.visible_to(request.user), pk=pk)


@login_required
@require_POST
def evidence_upload(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    form = forms.EvidenceForm(request.POST, request.FILES, prefix="evidence")
    if form.is_valid():
        done = run_service(
            form,
            lambda: services.add_evidence(
                acting_user(request),
                incident,
                form.cleaned_data["file"],
                description=form.cleaned_data["description"],
            ),
        )
        if done is not None:
            messages.success(
                request, _("Evidence stored with SHA-256 %(sha)s.") % {"sha": done.sha256}
            )
            return redirect("incident-detail", pk=pk)
    return incident_detail(request, pk, bound={"evidence": form}, status=400)


def _visible_evidence(request: HttpRequest, pk: int, evidence_pk: int) -> Evidence:
    incident = _visible_incident(request, pk)
    if not can(acting_user(request), "incident.handle", incident):
        raise PermissionDenied
    evidence: Evidence = get_object_or_404(
        Evidence.objects.select_related("incident"), pk=evidence_pk, incident=incident
    )
    return evidence


@login_required
def evidence_download(request: HttpRequest, pk: int, evidence_pk: int) -> HttpResponseBase:
    item = _visible_evidence(request, pk, evidence_pk)
    try:
        handle = services.open_for_download(acting_user(request), item)
    except evidence_service.StoredFileMissing as exc:
        return HttpResponseNotFound(str(exc), content_type="text/plain; charset=utf-8")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=item.original_name,
        content_type="application/octet-stream",
    )


@login_required
@require_POST
def evidence_verify(request: HttpRequest, pk: int, evidence_pk: int) -> HttpResponse:
    item = _visible_evidence(request, pk, evidence_pk)
    if services.verify(acting_user(request), item):
        messages.success(
            request,
            _("%(name)s: the stored file matches its SHA-256.") % {"name": item.original_name},
        )
    else:
        messages.error(
            request,
            _("%(name)s: the stored file does NOT match its SHA-256.")
            % {"name": item.original_name},
        )
    return redirect("incident-detail", pk=pk)


@login_required
@require_POST
def referral_create(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    form = forms.ReferralForm(request.POST, prefix="referral")
    if form.is_valid():
        data = form.cleaned_data
        done = run_service(
            form,
            lambda: services.refer(
                acting_user(request), incident, data["organisation"], note=data["note"]
            ),
        )
        if done is not None:
            messages.success(request, _("Referred to %(org)s.") % {"org": data["organisation"]})
            return redirect("incident-detail", pk=pk)
    return incident_detail(request, pk, bound={"referral": form}, status=400)


@login_required
def referral_package(request: HttpRequest, pk: int, referral_pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    referral = get_object_or_404(Referral, pk=referral_pk, incident=incident)
    viewer = viewer_of(request.user)
    if not (viewer.cert_staff or referral.organisation_id in viewer.own_org_ids):
        raise PermissionDenied
    try:
        data = services.package_bytes(acting_user(request), referral)
    except evidence_service.StoredFileMissing as exc:
        return HttpResponseNotFound(str(exc), content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{incident.reference}-referral.zip"'
    return response


@login_required
@require_POST
def task_add(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    form = forms.TaskForm(request.POST, prefix="task")
    if form.is_valid():
        data = form.cleaned_data
        owner = User.objects.filter(username=data["owner"], is_active=True).first()
        if owner is None:
            form.add_error("owner", _("No active user with this username."))
        elif run_service(
            form,
            lambda: services.add_task(
                acting_user(request),
                incident,
                title=data["title"],
                owner=owner,
                due_at=data["due_at"],
            ),
        ):
            return redirect("incident-detail", pk=pk)
    return incident_detail(request, pk, bound={"task": form}, status=400)


@login_required
@require_POST
def task_done(request: HttpRequest, pk: int, task_pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    task = get_object_or_404(ResponseTask, pk=task_pk, incident=incident)
    services.complete_task(acting_user(request), task)
    return redirect("incident-detail", pk=pk)


@login_required
def incident_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in ("stix", "iodef"):
        raise Http404
    incident = _visible_incident(request, pk)
    if fmt == "stix":
        body = json.dumps(interchange.incident_to_stix(incident), indent=1).encode()
        response = HttpResponse(body, content_type="application/stix+json;version=2.1")
    else:
        response = HttpResponse(
            interchange.incident_to_iodef(incident), content_type="application/xml"
        )
    extension = "json" if fmt == "stix" else "xml"
    response["Content-Disposition"] = (
        f'attachment; filename="{incident.reference}-{fmt}.{extension}"'
    )
    return response
