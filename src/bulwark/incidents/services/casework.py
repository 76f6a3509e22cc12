"""Case management by the CERT: tasks, assignee, tags, bulk actions, saved queue filters
and case templates."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    OrganisationKind,
    User,
)
from bulwark.constituency.timezones import zone_label
from bulwark.core import audit
from bulwark.core.permissions import can, require
from bulwark.incidents import workflow
from bulwark.incidents.models import (
    CaseTemplate,
    Incident,
    IncidentIndicator,
    IncidentTag,
    ResponseTask,
    SavedFilter,
    TimelineEntry,
)
from bulwark.incidents.services.common import (
    EARLIEST_TIME,
    LATEST_TIME,
    _event,
    parse_template_tasks,
)
from bulwark.incidents.services.reporting import start_response


@transaction.atomic
def add_task(
    actor: User, incident: Incident, *, title: str, owner: User, due_at: datetime
) -> ResponseTask:
    require(actor, "incident.handle", incident)
    if incident.status == workflow.Status.CLOSED:
        raise ValidationError({"status": _("The case is closed.")})
    if not (can(owner, "incident.handle", incident) or can(owner, "incident.review", incident)):
        raise ValidationError({"owner": _("The owner must be able to see and work this incident.")})
    if not title.strip():
        raise ValidationError({"title": _("Say what must be done.")})
    if not EARLIEST_TIME <= due_at <= LATEST_TIME:
        raise ValidationError({"due_at": _("Check the year of this time.")})
    task = ResponseTask.objects.create(
        incident=incident, title=title.strip(), owner=owner, due_at=due_at, created_by=actor
    )
    _event(
        incident,
        actor,
        _("Task for %(who)s, due %(due)s: %(t)s")
        % {
            "who": owner,
            "due": f"{timezone.localtime(due_at):%Y-%m-%d %H:%M} ({zone_label(due_at)})",
            "t": task.title,
        },
        TimelineEntry.Kind.TASK,
    )
    audit.record(
        actor,
        "incident.task_added",
        incident,
        changes={"task": task.title, "owner": owner.username},
        organisation_id=incident.organisation_id,
    )
    return task


@transaction.atomic
def complete_task(actor: User, task: ResponseTask) -> ResponseTask:
    require(actor, "incident.complete_task", task)
    if task.done_at is None:
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        _event(
            task.incident, actor, _("Task done: %(t)s") % {"t": task.title}, TimelineEntry.Kind.TASK
        )
        audit.record(
            actor,
            "incident.task_done",
            task.incident,
            changes={"task": task.title},
            organisation_id=task.incident.organisation_id,
        )
    return task


# --- Case management: assignee, tags, bulk actions, saved filters, case templates --------


def cert_staff_users() -> Any:
    """Who a case may be assigned to: active duty officers and analysts of the CERT."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__role__in=CERT_STAFF_ROLES,
            memberships__organisation__kind=OrganisationKind.NATIONAL_CERT,
        )
        .distinct()
        .order_by("username")
    )


@transaction.atomic
def assign_incident(actor: User, incident: Incident, assignee: User | None) -> Incident:
    """The CERT staff member who owns the case (None: nobody)."""
    require(actor, "incident.triage", incident)
    if assignee is not None and not (assignee.is_active and viewer_of(assignee).cert_staff):
        raise ValidationError({"assignee": _("Cases are assigned to active CERT staff.")})
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status == workflow.Status.CLOSED:
        raise ValidationError({"status": _("The case is closed.")})
    before = incident.assignee
    if before == assignee:
        return incident
    incident.assignee = assignee
    incident.save(update_fields=["assignee"])
    _event(
        incident,
        actor,
        _("Assigned to %(who)s.") % {"who": assignee} if assignee else _("Unassigned."),
    )
    audit.record(
        actor,
        "incident.assigned",
        incident,
        changes={
            "assignee": [getattr(before, "username", None), getattr(assignee, "username", None)]
        },
        organisation_id=incident.organisation_id,
    )
    return incident


MAX_TAGS = 20


def parse_tags(text: str) -> list[str]:
    """'Ransomware, vpn  apt-41' -> ['apt-41', 'ransomware', 'vpn'] (commas or spaces)."""
    from django.utils.text import slugify

    names = {slugify(word, allow_unicode=True)[:50] for word in text.replace(",", " ").split()}
    names.discard("")
    return sorted(names)


@transaction.atomic
def set_tags(actor: User, incident: Incident, names: Iterable[str]) -> list[str]:
    require(actor, "incident.handle", incident)
    wanted = sorted(set(names))
    if len(wanted) > MAX_TAGS:
        raise ValidationError({"tags": _("At most %(n)d tags.") % {"n": MAX_TAGS}})
    before = sorted(incident.tags.values_list("name", flat=True))
    if before == wanted:
        return wanted
    incident.tags.exclude(name__in=wanted).delete()
    IncidentTag.objects.bulk_create(
        [IncidentTag(incident=incident, name=n) for n in wanted if n not in before]
    )
    audit.record(
        actor,
        "incident.tagged",
        incident,
        changes={"tags": [before, wanted]},
        organisation_id=incident.organisation_id,
    )
    return wanted


@transaction.atomic
def set_indicator_tags(
    actor: User, incident: Incident, indicator_id: int, names: Iterable[str]
) -> list[str]:
    """Tags on one observable of a case, by those who handle the case (as its own tags)."""
    require(actor, "incident.handle", incident)
    indicator = IncidentIndicator.objects.filter(incident=incident, pk=indicator_id).first()
    if indicator is None:
        raise ValidationError({"indicator": _("This case has no such observable.")})
    wanted = sorted(set(names))
    if len(wanted) > MAX_TAGS:
        raise ValidationError({"tags": _("At most %(n)d tags.") % {"n": MAX_TAGS}})
    before = indicator.tag_list
    if before == wanted:
        return wanted
    indicator.tags = " ".join(wanted)
    indicator.save(update_fields=["tags"])
    audit.record(
        actor,
        "incident.indicator_tagged",
        incident,
        changes={"indicator": str(indicator), "tags": [before, wanted]},
        organisation_id=incident.organisation_id,
    )
    return wanted


BULK_ACTIONS = ("assign", "respond")
MAX_BULK = 200


def bulk_act(
    actor: User, incident_ids: Iterable[int], action: str, *, assignee: User | None = None
) -> tuple[list[str], dict[str, str]]:
    """Apply one action to many cases, each through its own service and permission check
    (one transaction per case). Ids the actor cannot see are reported as not found, never
    acted on. Returns the references done and, by reference or id, why the others were
    refused."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Unknown bulk action.")})
    ids = list(dict.fromkeys(int(i) for i in incident_ids))[: MAX_BULK + 1]
    if len(ids) > MAX_BULK:
        raise ValidationError({"action": _("At most %(n)d cases at once.") % {"n": MAX_BULK}})
    visible = {i.pk: i for i in Incident.objects.visible_to(actor).filter(pk__in=ids)}
    done: list[str] = []
    refused: dict[str, str] = {}
    for pk in ids:
        incident = visible.get(pk)
        if incident is None:
            refused[f"#{pk}"] = _("No such incident.")
            continue
        try:
            if action == "assign":
                assign_incident(actor, incident, assignee)
            else:
                start_response(actor, incident)
        except (PermissionDenied, ValidationError) as exc:
            refused[incident.reference] = " ".join(
                getattr(exc, "messages", None) or [str(exc) or _("Not allowed.")]
            )
        else:
            done.append(incident.reference)
    return done, refused


@transaction.atomic
def save_filter(actor: User, name: str, query: str) -> SavedFilter:
    """A person's named queue filter; the same name again replaces it."""
    from django.http import QueryDict

    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the filter.")})
    params = QueryDict(query, mutable=True)
    for transient in ("page", "format", "csrfmiddlewaretoken"):
        params.pop(transient, None)
    saved, _created = SavedFilter.objects.update_or_create(
        user=actor, name=name[:100], defaults={"query": params.urlencode()[:1000]}
    )
    audit.record(actor, "incident.filter_saved", saved, changes={"query": saved.query})
    return saved


@transaction.atomic
def delete_filter(actor: User, saved: SavedFilter) -> None:
    require(actor, "incident.delete_filter", saved)
    audit.record(actor, "incident.filter_deleted", saved, changes={"name": saved.name})
    saved.delete()


@transaction.atomic
def save_case_template(actor: User, rsit_class: str, tasks: str) -> CaseTemplate | None:
    """The CERT keeps one task list per incident class; an empty list removes it."""
    require(actor, "incident.coordinate")
    if rsit_class not in dict(Incident._meta.get_field("rsit_class").choices or []):
        raise ValidationError({"rsit_class": _("Unknown class.")})
    parse_template_tasks(tasks)
    if not tasks.strip():
        CaseTemplate.objects.filter(rsit_class=rsit_class).delete()
        audit.record(
            actor,
            "incident.template_removed",
            None,
            object_type="case_template",
            object_id=rsit_class,
        )
        return None
    template, _created = CaseTemplate.objects.update_or_create(
        rsit_class=rsit_class, defaults={"tasks": tasks.strip(), "updated_by": actor}
    )
    audit.record(actor, "incident.template_saved", template, changes={"tasks": template.tasks})
    return template
