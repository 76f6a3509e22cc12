"""The only code that changes advisories: each function checks the actor's right, writes
in one transaction with one audit entry, and queues its side effects on commit.

Four eyes: the person who approves an advisory is never its author, and only an
approved advisory can be sent. Changing an approved advisory sends it back to draft."""

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from bulwark.advisories import matching, targeting
from bulwark.advisories.models import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_BODY_CHARS,
    Advisory,
    AdvisoryCategory,
    Attachment,
    Delivery,
    InventoryItem,
    Response,
    Revision,
    Status,
    Target,
)
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import (
    CERT_STAFF_ROLES,
    Contact,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    Sector,
    User,
)
from bulwark.core import audit
from bulwark.core.models import NotificationKind
from bulwark.core.services import notify

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
CVSS_VECTOR = re.compile(
    r"^CVSS:3\.[01]/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]"
    r"(/(E|RL|RC|CR|IR|AR|MAV|MAC|MPR|MUI|MS|MC|MI|MA):[A-Z])*$"
)
MAX_CVES = 200
MAX_PRODUCTS = 200
MAX_INDICATORS = 1000
# Fields an author writes (and whose changes a revision lists).
CONTENT_FIELDS = [
    "title",
    "title_zh_hant",
    "summary",
    "summary_zh_hant",
    "body",
    "body_zh_hant",
    "category",
    "severity",
    "tlp",
    "publication",
    "cves",
    "affected_products",
    "recommended_actions",
    "recommended_actions_zh_hant",
    "response_required",
    "response_deadline",
    "related_indicators",
    "target_all",
    "target_inventory",
]
TARGET_FIELDS = ["target_sectors", "target_authorities", "target_organisations"]
# Contacts that receive advisories (abuse desks receive abuse reports, not advisories).
ADVISORY_PURPOSES = [
    Contact.Purpose.SECURITY,
    Contact.Purpose.CISO,
    Contact.Purpose.EMERGENCY,
    Contact.Purpose.GENERAL,
]
RED_PURPOSES = [Contact.Purpose.SECURITY, Contact.Purpose.CISO]
MEMBER_ROLES = [Role.REPORTER, Role.ORG_ADMIN, Role.REVIEWER]
DELIVERY_BATCH = 200
TARGET_CHUNK = 5000
MAX_DELIVERY_ATTEMPTS = 5
REMIND_BEFORE = timedelta(hours=24)


# --- Rights ------------------------------------------------------------------------------


def _require_cert(actor: User) -> None:
    if not viewer_of(actor).cert_staff:
        raise PermissionDenied(_("Only CERT analysts and duty officers write advisories."))


def _require_member(actor: User, target: Target) -> None:
    viewer = viewer_of(actor)
    if target.organisation_id not in viewer.own_org_ids:
        raise PermissionDenied(_("Only members of the receiving organisation may answer."))
    if not Advisory.objects.visible_to(actor).filter(pk=target.advisory_id).exists():
        raise PermissionDenied(_("You may not read this advisory."))


# --- Validation of content ---------------------------------------------------------------


def clean_cves(values: Iterable[Any]) -> list[dict[str, Any]]:
    cleaned, seen = [], set()
    for position, value in enumerate(values, start=1):
        item = {"id": value} if isinstance(value, str) else dict(value)
        cve_id = str(item.get("id", "")).strip().upper()
        if not CVE_ID.match(cve_id):
            raise ValidationError(
                {
                    "cves": _("#%(n)d: %(v)s is not a CVE id (CVE-YYYY-NNNN).")
                    % {"n": position, "v": cve_id[:40]}
                }
            )
        entry: dict[str, Any] = {"id": cve_id}
        score = item.get("cvss_score")
        if score not in (None, ""):
            try:
                number = float(score)
            except (TypeError, ValueError):
                number = -1.0
            if not 0.0 <= number <= 10.0:
                raise ValidationError(
                    {"cves": _("#%(n)d: a CVSS score lies between 0 and 10.") % {"n": position}}
                )
            entry["cvss_score"] = round(number, 1)
        vector = str(item.get("cvss_vector") or "").strip()
        if vector:
            if not CVSS_VECTOR.match(vector) or len(vector) > 200:
                raise ValidationError(
                    {
                        "cves": _("#%(n)d: %(v)s is not a CVSS 3.x vector.")
                        % {"n": position, "v": vector[:60]}
                    }
                )
            entry["cvss_vector"] = vector
        if cve_id not in seen:
            seen.add(cve_id)
            cleaned.append(entry)
    if len(cleaned) > MAX_CVES:
        raise ValidationError({"cves": _("At most %(n)d CVEs.") % {"n": MAX_CVES}})
    return cleaned


def clean_products(values: Iterable[Any]) -> list[dict[str, str]]:
    cleaned = []
    for position, value in enumerate(values, start=1):
        try:
            if isinstance(value, str):
                product = matching.parse_cpe(value)
                item = {
                    "vendor": product.vendor,
                    "product": product.product,
                    "versions": f"=={product.version}" if product.version else "",
                }
            else:
                item = {
                    "vendor": matching.normalise_name(str(value.get("vendor", ""))),
                    "product": matching.normalise_name(str(value.get("product", ""))),
                    "versions": str(value.get("versions") or "").strip()[:200],
                }
            matching.parse_range(item["versions"])
        except (matching.InvalidProduct, AttributeError) as exc:
            raise ValidationError({"affected_products": f"#{position}: {exc}"}) from None
        cleaned.append(item)
    if len(cleaned) > MAX_PRODUCTS:
        raise ValidationError(
            {"affected_products": _("At most %(n)d products.") % {"n": MAX_PRODUCTS}}
        )
    return cleaned


def _clean(advisory: Advisory) -> None:
    for field in ("body", "body_zh_hant"):
        if len(getattr(advisory, field)) > MAX_BODY_CHARS:
            raise ValidationError(
                {
                    field: _("The body is %(size)d characters; the limit is %(limit)d.")
                    % {"size": len(getattr(advisory, field)), "limit": MAX_BODY_CHARS}
                }
            )
    advisory.cves = clean_cves(advisory.cves or [])
    advisory.affected_products = clean_products(advisory.affected_products or [])
    indicators = [
        str(v).strip()[:2048] for v in advisory.related_indicators or [] if str(v).strip()
    ]
    if len(indicators) > MAX_INDICATORS:
        raise ValidationError(
            {"related_indicators": _("At most %(n)d indicators.") % {"n": MAX_INDICATORS}}
        )
    advisory.related_indicators = list(dict.fromkeys(indicators))
    if advisory.publication and advisory.tlp != "clear":
        raise ValidationError(
            {"publication": _("Only TLP:CLEAR advisories can be published on public pages.")}
        )
    if advisory.response_required != Response.NONE and advisory.response_deadline is None:
        raise ValidationError({"response_deadline": _("A required response needs a deadline.")})
    advisory.full_clean(exclude=["reference", "author", "category"])


def _next_reference() -> str:
    year = timezone.now().year
    prefix = f"BWA-{year}-"
    last = (
        Advisory.objects.filter(reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


def _set_targets(advisory: Advisory, targets: dict[str, Any]) -> None:
    if "target_sectors" in targets:
        advisory.target_sectors.set(Sector.objects.filter(pk__in=_ids(targets["target_sectors"])))
    for field in ("target_authorities", "target_organisations"):
        if field in targets:
            getattr(advisory, field).set(Organisation.objects.filter(pk__in=_ids(targets[field])))


def _ids(values: Iterable[Any]) -> list[int]:
    return [v.pk if hasattr(v, "pk") else int(v) for v in values]


def _split(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    unknown = set(fields) - set(CONTENT_FIELDS) - set(TARGET_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    content = {k: v for k, v in fields.items() if k in CONTENT_FIELDS}
    return content, {k: v for k, v in fields.items() if k in TARGET_FIELDS}


# --- Writing and approving -----------------------------------------------------------------


def create_advisory(actor: User, **fields: Any) -> Advisory:
    _require_cert(actor)
    content, targets = _split(fields)
    if "category" in content and not isinstance(content["category"], AdvisoryCategory):
        content["category"] = AdvisoryCategory.objects.get(code=content["category"])
    for attempt in range(5):
        try:
            with transaction.atomic():
                advisory = Advisory(author=actor, reference=_next_reference(), **content)
                _clean(advisory)
                advisory.save()
                _set_targets(advisory, targets)
                audit.record(actor, "advisory.created", advisory, changes={"status": "draft"})
                return advisory
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _diff(advisory: Advisory, content: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for field, new in content.items():
        old = getattr(advisory, field)
        if field == "category":
            old, new = old.code, new.code
        if old != new:
            changes[field] = [old, new]
    return changes


def _target_diff(advisory: Advisory, targets: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for field, values in targets.items():
        old = sorted(getattr(advisory, field).values_list("pk", flat=True))
        new = sorted(_ids(values))
        if old != new:
            changes[field] = [old, new]
    return changes


def update_advisory(actor: User, advisory: Advisory, *, note: str = "", **fields: Any) -> Advisory:
    """Edit an advisory. Before sending, any change needs (new) approval; after sending,
    the change is a proposed revision with a note saying what changed, applied and sent to
    the recipients when a second person approves it (`approve_revision`)."""
    _require_cert(actor)
    content, targets = _split(fields)
    if "category" in content and not isinstance(content["category"], AdvisoryCategory):
        content["category"] = AdvisoryCategory.objects.get(code=content["category"])
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        changes = _diff(advisory, content) | _target_diff(advisory, targets)
        if not changes:
            return advisory
        for field, value in content.items():
            setattr(advisory, field, value)
        _clean(advisory)
        if advisory.status != Status.SENT:
            advisory.status = Status.DRAFT
            advisory.approved_by, advisory.approved_at = None, None
            advisory.save()
            _set_targets(advisory, targets)
            audit.record(actor, "advisory.edited", advisory, changes=changes)
            return advisory
        if targets:
            raise ValidationError(_("The recipients of a sent advisory cannot be changed."))
        if not note.strip():
            raise ValidationError({"note": _("Say what changed: recipients read this note.")})
        if advisory.revisions.pending().exists():
            raise ValidationError(_("A revision of this advisory already awaits approval."))
        proposed = {
            f: (advisory.category.code if f == "category" else getattr(advisory, f))
            for f in content
            if f in changes
        }
        revision = Revision.objects.create(
            advisory=advisory,
            author=actor,
            note=note.strip()[:1000],
            changes=_plain(changes),
            proposed=_plain(proposed),
        )
        audit.record(
            actor,
            "advisory.revision_proposed",
            advisory,
            changes={"revision_id": revision.pk, "note": note, "fields": sorted(changes)},
        )
        _tell_second_person(advisory, actor, revision=True)
        # The advisory itself is unchanged until a second person approves the revision.
        return Advisory.objects.get(pk=advisory.pk)


def _plain(value: Any) -> Any:
    """JSON-safe: dates as full ISO 8601 strings (microseconds kept, so an approved
    revision applies exactly the proposed deadline)."""
    return json.loads(json.dumps(value, default=_iso))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def approve_revision(actor: User, revision: Revision) -> Revision:
    """A second CERT member approves a proposed revision: it is applied, numbered, and
    every recipient is told what changed."""
    _require_cert(actor)
    if revision.author_id == actor.pk:
        raise PermissionDenied(_("A second person must approve a revision, not its author."))
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=revision.advisory_id)
        revision = Revision.objects.select_for_update().get(pk=revision.pk)
        if not revision.is_pending:
            raise ValidationError(_("This revision has already been decided."))
        for field, value in revision.proposed.items():
            if field == "category":
                value = AdvisoryCategory.objects.get(code=value)
            elif field == "response_deadline" and value is not None:
                value = parse_datetime(value)
            setattr(advisory, field, value)
        _clean(advisory)
        advisory.revision += 1
        advisory.save()
        now = timezone.now()
        revision.number, revision.at = advisory.revision, now
        revision.approved_by, revision.approved_at = actor, now
        revision.save()
        audit.record(
            actor,
            "advisory.revised",
            advisory,
            changes={
                "revision": advisory.revision,
                "note": revision.note,
                "fields": sorted(revision.changes),
                "proposed_by": revision.author_id,
            },
        )
        _notify_targets(advisory, kind="revision")
        return revision


def reject_revision(actor: User, revision: Revision) -> Revision:
    _require_cert(actor)
    with transaction.atomic():
        revision = Revision.objects.select_for_update().get(pk=revision.pk)
        if not revision.is_pending:
            raise ValidationError(_("This revision has already been decided."))
        revision.rejected_at = timezone.now()
        revision.save(update_fields=["rejected_at"])
        audit.record(
            actor,
            "advisory.revision_rejected",
            revision.advisory,
            changes={"revision_id": revision.pk},
        )
        return revision


def submit(actor: User, advisory: Advisory) -> Advisory:
    _require_cert(actor)
    advisory = _transition(actor, advisory, Status.DRAFT, Status.PENDING, "advisory.submitted")
    _tell_second_person(advisory, actor)
    return advisory


def approve(actor: User, advisory: Advisory) -> Advisory:
    _require_cert(actor)
    if advisory.author_id == actor.pk:
        raise PermissionDenied(_("A second person must approve an advisory, not its author."))
    advisory = _transition(actor, advisory, Status.PENDING, Status.APPROVED, "advisory.approved")
    _tell_author(advisory, actor, _("%(who)s approved advisory %(ref)s: it can be sent."))
    return advisory


def reject(actor: User, advisory: Advisory, *, reason: str) -> Advisory:
    _require_cert(actor)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why, so the author can fix it.")})
    advisory = _transition(
        actor, advisory, Status.PENDING, Status.DRAFT, "advisory.rejected", reason=reason
    )
    _tell_author(
        advisory, actor, _("%(who)s sent advisory %(ref)s back: %(why)s"), why=reason.strip()
    )
    return advisory


def _tell_second_person(advisory: Advisory, actor: User, revision: bool = False) -> None:
    """Four eyes: every other CERT analyst and duty officer learns that an advisory (or a
    revision of a sent one) awaits their approval."""
    ids = (
        Membership.objects.filter(
            organisation__kind=OrganisationKind.NATIONAL_CERT,
            organisation__is_active=True,
            role__in=CERT_STAFF_ROLES,
            user__is_active=True,
        )
        .exclude(user_id=actor.pk)
        .values_list("user_id", flat=True)
        .distinct()
    )
    text = (
        _("A revision of advisory %(ref)s by %(who)s awaits your approval.")
        if revision
        else _("Advisory %(ref)s by %(who)s awaits your approval.")
    ) % {"ref": advisory.reference, "who": actor.get_username()}
    url = reverse("advisory-detail", args=[advisory.pk])
    notify(ids, NotificationKind.ADVISORY_APPROVAL, text, url, subject=f"advisory:{advisory.pk}")


def _tell_author(advisory: Advisory, actor: User, text: str, **extra: str) -> None:
    if advisory.author_id == actor.pk:
        return
    message = text % {"who": actor.get_username(), "ref": advisory.reference, **extra}
    notify(
        [advisory.author_id],
        NotificationKind.ADVISORY_DECISION,
        message,
        reverse("advisory-detail", args=[advisory.pk]),
        subject=f"advisory:{advisory.pk}",
    )


def _transition(
    actor: User, advisory: Advisory, source: str, dest: str, action: str, **extra: Any
) -> Advisory:
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if advisory.status != source:
            raise ValidationError(
                _("This advisory is %(status)s; it must be %(source)s for this step.")
                % {"status": advisory.get_status_display(), "source": Status(source).label}
            )
        advisory.status = dest
        if dest == Status.APPROVED:
            advisory.approved_by, advisory.approved_at = actor, timezone.now()
        advisory.save()
        audit.record(actor, action, advisory, changes={"status": [source, dest], **extra})
        return advisory


def preview(advisory: Advisory) -> list[tuple[Organisation, str]]:
    """Exactly who `send` would target now, with the reason, by name."""
    reasons = targeting.resolve(advisory)
    orgs = Organisation.objects.filter(pk__in=list(reasons)).order_by("name")
    return [(org, reasons[org.pk]) for org in orgs]


def send(actor: User, advisory: Advisory) -> Advisory:
    """Send an approved advisory: one target per recipient organisation, one queued
    e-mail per contact address, an in-app notification to each member."""
    _require_cert(actor)
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if advisory.status != Status.APPROVED:
            raise ValidationError(_("Only an approved advisory can be sent."))
        reasons = targeting.resolve(advisory)
        if not reasons and not advisory.publication:
            raise ValidationError(_("Nobody would receive this advisory: choose recipients."))
        advisory.status, advisory.sent_by, advisory.sent_at = Status.SENT, actor, timezone.now()
        advisory.save()
        Target.objects.bulk_create(
            [
                Target(advisory=advisory, organisation_id=o, reason=r[:200])
                for o, r in reasons.items()
            ],
            batch_size=2000,
        )
        audit.record(
            actor,
            "advisory.sent",
            advisory,
            changes={"status": ["approved", "sent"], "targets": len(reasons)},
        )
        _notify_targets(advisory, kind="advisory")
        return advisory


# --- Delivery ------------------------------------------------------------------------------


def _queue_deliveries(advisory: Advisory, kind: str, target_ids: list[int] | None) -> list[int]:
    if target_ids is not None and len(target_ids) > TARGET_CHUNK:
        # Keep each statement under SQLite's limit on query parameters.
        return [
            pk
            for start in range(0, len(target_ids), TARGET_CHUNK)
            for pk in _queue_deliveries(advisory, kind, target_ids[start : start + TARGET_CHUNK])
        ]
    return _insert_deliveries(advisory, kind, target_ids)


def _insert_deliveries(advisory: Advisory, kind: str, target_ids: list[int] | None) -> list[int]:
    """One delivery row per target and contact address, in one INSERT ... SELECT (20,000
    rows through the ORM cost seconds). The language is that of the user who has the
    contact's address, else LANGUAGE_CODE. Returns the new rows' ids."""
    purposes = RED_PURPOSES if advisory.tlp == "red" else ADVISORY_PURPOSES
    params: list[Any] = [kind, advisory.revision, settings.LANGUAGE_CODE, advisory.pk]
    params += [str(p) for p in purposes]
    only = ""
    if target_ids is not None:
        only = f" AND t.id IN ({', '.join(['%s'] * len(target_ids))})"
        params += target_ids
    marks = ", ".join(["%s"] * len(purposes))
    sql = f"""
        INSERT INTO {Delivery._meta.db_table}
            (target_id, advisory_id, kind, revision, email, language, state, attempts,
             last_error)
        SELECT t.id, t.advisory_id, %s, %s, MIN(c.email),
               COALESCE(MIN(u.preferred_language), %s),
               'queued', 0, ''
        FROM {Target._meta.db_table} t
        JOIN {Contact._meta.db_table} c ON c.organisation_id = t.organisation_id
        LEFT JOIN {User._meta.db_table} u ON u.email = c.email
        WHERE t.advisory_id = %s AND c.purpose IN ({marks}) AND c.email <> ''{only}
        GROUP BY t.id, t.advisory_id, LOWER(c.email)
    """  # noqa: S608 - table names from the models, values as parameters
    before = Delivery.objects.aggregate(last=Max("pk"))["last"] or 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    new = Delivery.objects.filter(pk__gt=before, advisory=advisory, kind=kind)
    if target_ids is not None:
        new = new.filter(target_id__in=target_ids)
    return list(new.order_by("pk").values_list("pk", flat=True))


def _notify_targets(
    advisory: Advisory, *, kind: str, target_ids: list[int] | None = None
) -> list[int]:
    """Queue e-mail to the targets' contacts and tell their members in the app."""
    ids = _queue_deliveries(advisory, kind, target_ids)
    targets = Target.objects.filter(advisory=advisory)
    if target_ids is not None:
        targets = targets.filter(pk__in=target_ids)
    _notify_members(advisory, targets.values("organisation_id"), kind)
    batches = [ids[i : i + DELIVERY_BATCH] for i in range(0, len(ids), DELIVERY_BATCH)]
    transaction.on_commit(lambda: _enqueue(batches))
    return ids


def _enqueue(batches: list[list[int]]) -> None:
    from bulwark.advisories.tasks import deliver

    for batch in batches:
        deliver.enqueue(batch)


def _notify_members(advisory: Advisory, org_ids: Any, kind: str) -> None:
    roles = [Role.ORG_ADMIN] if advisory.tlp == "red" else MEMBER_ROLES
    user_ids = set(
        Membership.objects.filter(
            organisation_id__in=org_ids, role__in=roles, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    texts = {
        "advisory": _("New advisory %(ref)s [%(tlp)s]: %(title)s"),
        "revision": _("Advisory %(ref)s updated (revision %(rev)d): %(title)s"),
        "reminder": _("Reminder: advisory %(ref)s needs your response by %(due)s"),
    }
    due = (
        timezone.localtime(advisory.response_deadline).strftime("%Y-%m-%d %H:%M")
        if advisory.response_deadline
        else ""
    )
    text = texts[kind] % {
        "ref": advisory.reference,
        "tlp": advisory.tlp_label,
        "title": advisory.title,
        "rev": advisory.revision,
        "due": due,
    }
    url = reverse("advisory-detail", args=[advisory.pk])
    notify(
        user_ids,
        NotificationKind.ADVISORY_REMINDER if kind == "reminder" else NotificationKind.ADVISORY,
        text,
        url,
        subject=f"advisory:{advisory.pk}",
    )


def record_delivery(delivery_id: int, error: str = "") -> None:
    """A delivery attempt's outcome; a failure is retried later with backoff."""
    now = timezone.now()
    delivery = Delivery.objects.get(pk=delivery_id)
    delivery.attempts += 1
    if error:
        delivery.state = Delivery.State.FAILED
        delivery.last_error = error[:500]
        if delivery.attempts < MAX_DELIVERY_ATTEMPTS:
            delivery.next_attempt_at = now + timedelta(minutes=5 * 2 ** (delivery.attempts - 1))
        else:
            delivery.next_attempt_at = None
    else:
        delivery.state, delivery.sent_at, delivery.next_attempt_at = Delivery.State.SENT, now, None
        delivery.last_error = ""
    delivery.save(update_fields=["attempts", "state", "last_error", "next_attempt_at", "sent_at"])


def retry_failed(now: datetime | None = None) -> int:
    """Queue the failed deliveries whose next attempt is due."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(state=Delivery.State.FAILED, next_attempt_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:10_000]
    )
    if due:
        Delivery.objects.filter(pk__in=due).update(state=Delivery.State.QUEUED)
        batches = [due[i : i + DELIVERY_BATCH] for i in range(0, len(due), DELIVERY_BATCH)]
        transaction.on_commit(lambda: _enqueue(batches))
    return len(due)


# --- Acknowledgement and action ------------------------------------------------------------


def mark_read(actor: User, target: Target) -> Target:
    """The first time a member opens the advisory (not audited: it is not a decision)."""
    if target.read_at is None and target.organisation_id in viewer_of(actor).own_org_ids:
        Target.objects.filter(pk=target.pk, read_at__isnull=True).update(read_at=timezone.now())
        target.refresh_from_db()
    return target


def acknowledge(actor: User, target: Target) -> Target:
    _require_member(actor, target)
    with transaction.atomic():
        target = Target.objects.select_for_update().get(pk=target.pk)
        if target.acknowledged_at is not None:
            return target
        now = timezone.now()
        target.acknowledged_at, target.acknowledged_by = now, actor
        target.read_at = target.read_at or now
        target.save()
        audit.record(
            actor,
            "advisory.acknowledged",
            target.advisory,
            organisation_id=target.organisation_id,
            changes={"organisation": target.organisation_id},
        )
        return target


def report_action(actor: User, target: Target, *, action: str, note: str = "") -> Target:
    _require_member(actor, target)
    if action not in {c.value for c in Target.Action if c.value}:
        raise ValidationError({"action": _("Choose patched, mitigated or not affected.")})
    if len(note) > 5000:
        raise ValidationError({"note": _("The note is limited to 5000 characters.")})
    with transaction.atomic():
        target = Target.objects.select_for_update().get(pk=target.pk)
        now = timezone.now()
        previous = target.action
        target.action, target.action_note = action, note.strip()
        target.acted_at, target.acted_by = now, actor
        target.read_at = target.read_at or now
        if target.acknowledged_at is None:
            target.acknowledged_at, target.acknowledged_by = now, actor
        target.save()
        audit.record(
            actor,
            "advisory.action_reported",
            target.advisory,
            organisation_id=target.organisation_id,
            changes={"organisation": target.organisation_id, "action": [previous, action]},
        )
        return target


# --- Reminders and escalation --------------------------------------------------------------


def _open_targets() -> Any:
    """Targets that still owe the response their advisory requires."""
    needs_ack = Q(advisory__response_required=Response.ACKNOWLEDGE, acknowledged_at__isnull=True)
    needs_action = Q(advisory__response_required=Response.ACTION, acted_at__isnull=True)
    return Target.objects.filter(advisory__status=Status.SENT).filter(needs_ack | needs_action)


def send_reminders(now: datetime | None = None) -> int:
    """Remind targets whose deadline is less than a day away, once."""
    now = now or timezone.now()
    due = _open_targets().filter(
        reminded_at__isnull=True,
        advisory__response_deadline__gt=now,
        advisory__response_deadline__lte=now + REMIND_BEFORE,
    )
    count = 0
    for advisory_id in set(due.values_list("advisory_id", flat=True)):
        with transaction.atomic():
            ids = list(due.filter(advisory_id=advisory_id).values_list("pk", flat=True))
            Target.objects.filter(pk__in=ids).update(reminded_at=now)
            advisory = Advisory.objects.get(pk=advisory_id)
            _notify_targets(advisory, kind="reminder", target_ids=ids)
            audit.record(None, "advisory.reminded", advisory, changes={"targets": len(ids)})
            count += len(ids)
    return count


def remind(actor: User, advisory: Advisory) -> int:
    """The CERT reminds every target that has not yet answered (from the tracking view)."""
    _require_cert(actor)
    with transaction.atomic():
        ids = list(_open_targets().filter(advisory=advisory).values_list("pk", flat=True))
        Target.objects.filter(pk__in=ids).update(reminded_at=timezone.now())
        if ids:
            _notify_targets(advisory, kind="reminder", target_ids=ids)
        audit.record(actor, "advisory.reminded", advisory, changes={"targets": len(ids)})
        return len(ids)


def escalate_overdue(now: datetime | None = None) -> int:
    """Tell the supervising authority (its reviewers and admins) about each agency that
    missed an advisory's deadline, once per target. The authority learns the reference
    and the agency, not the advisory's content (it may not be a recipient)."""
    now = now or timezone.now()
    overdue = (
        _open_targets()
        .filter(escalated_at__isnull=True, advisory__response_deadline__lt=now)
        .select_related("organisation", "advisory")
    )
    count = 0
    for target in overdue.iterator(chunk_size=500):
        with transaction.atomic():
            Target.objects.filter(pk=target.pk).update(escalated_at=now)
            parent_id = target.organisation.parent_id
            people: list[User] = []
            if parent_id is not None:
                ids = Membership.objects.filter(
                    organisation_id=parent_id,
                    role__in=[Role.REVIEWER, Role.ORG_ADMIN],
                    user__is_active=True,
                ).values_list("user_id", flat=True)
                people = list(User.objects.filter(pk__in=set(ids)))
            text = _("OVERDUE: %(org)s has not answered advisory %(ref)s (due %(due)s).") % {
                "org": target.organisation.name,
                "ref": target.advisory.reference,
                "due": timezone.localtime(target.advisory.response_deadline).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            }
            url = reverse("organisation-detail", args=[target.organisation_id])
            # One row per advisory for the authority, counting the agencies that missed it.
            notify(
                people,
                NotificationKind.ADVISORY_OVERDUE,
                text,
                url,
                subject=f"advisory:{target.advisory_id}",
            )
            emails = sorted({u.email for u in people if u.email})
            if emails:
                from bulwark.core.tasks import send_email

                body = f"{text}\n\n{settings.SITE_URL}{url}\n"
                transaction.on_commit(partial(send_email.enqueue, text, body, emails))
            audit.record(
                None,
                "advisory.escalated",
                target.advisory,
                organisation_id=target.organisation_id,
                changes={
                    "organisation": target.organisation_id,
                    "authority": parent_id,
                    "told": len(people),
                },
            )
            count += 1
    return count


# --- Attachments ---------------------------------------------------------------------------


SAFE_NAME = re.compile(r"[^\w.\- ]+")


def add_attachment(
    actor: User, advisory: Advisory, *, name: str, content_type: str, data: bytes
) -> Attachment:
    _require_cert(actor)
    if advisory.status == Status.SENT:
        raise ValidationError(_("Attachments are added before the advisory is sent."))
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            {
                "file": _("The file is %(size)d bytes; the limit is %(limit)d bytes.")
                % {"size": len(data), "limit": MAX_ATTACHMENT_BYTES}
            }
        )
    if not data:
        raise ValidationError({"file": _("The file is empty.")})
    safe = SAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip()[:200] or "file"
    with transaction.atomic():
        advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if advisory.attachments.count() >= MAX_ATTACHMENTS:
            raise ValidationError(
                {"file": _("At most %(n)d attachments per advisory.") % {"n": MAX_ATTACHMENTS}}
            )
        attachment = Attachment.objects.create(
            advisory=advisory,
            name=safe,
            content_type=(content_type or "application/octet-stream")[:100],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
        )
        if advisory.status != Status.DRAFT:
            advisory.status, advisory.approved_by, advisory.approved_at = Status.DRAFT, None, None
            advisory.save()
        audit.record(
            actor,
            "advisory.attachment_added",
            advisory,
            changes={"name": safe, "size": len(data), "sha256": attachment.sha256},
        )
        return attachment


# --- Inventory -----------------------------------------------------------------------------


def _require_inventory_admin(actor: User, organisation_id: int) -> None:
    if not viewer_of(actor).administers(organisation_id):
        raise PermissionDenied(_("Only the organisation's admins manage its inventory."))


def add_inventory_item(
    actor: User,
    organisation: Organisation,
    *,
    cpe: str = "",
    vendor: str = "",
    product: str = "",
    version: str = "",
    note: str = "",
) -> InventoryItem:
    _require_inventory_admin(actor, organisation.pk)
    try:
        if cpe.strip():
            parsed = matching.parse_cpe(cpe)
        else:
            parsed = matching.Product(
                matching.normalise_name(vendor), matching.normalise_name(product), version.strip()
            )
    except matching.InvalidProduct as exc:
        raise ValidationError({"cpe" if cpe.strip() else "product": str(exc)}) from None
    if len(parsed.version) > 100 or len(cpe) > 500:
        raise ValidationError({"version": _("The version is limited to 100 characters.")})
    with transaction.atomic():
        item = InventoryItem.objects.create(
            organisation=organisation,
            cpe=cpe.strip(),
            vendor=parsed.vendor,
            product=parsed.product,
            version=parsed.version,
            note=note.strip()[:200],
        )
        audit.record(
            actor,
            "inventory.added",
            item,
            organisation_id=organisation.pk,
            changes={"vendor": item.vendor, "product": item.product, "version": item.version},
        )
        return item


def remove_inventory_item(actor: User, item: InventoryItem) -> None:
    _require_inventory_admin(actor, item.organisation_id)
    with transaction.atomic():
        audit.record(
            actor,
            "inventory.removed",
            item,
            organisation_id=item.organisation_id,
            changes={"vendor": item.vendor, "product": item.product, "version": item.version},
        )
        item.delete()
