"""Training-hours records: added, imported from CSV or xAPI, exported as xAPI; reminders
to those behind."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.tasks import send_email
from bulwark.training.engine import xapi
from bulwark.training.models import (
    Course,
    HoursKind,
    HoursTotal,
    Learner,
    PortalMapping,
    RecordSource,
    TrainingRecord,
)
from bulwark.training.services.common import MAX_IMPORT_ROWS, ImportResult, TrainingError, csv_rows


def add_record(learner: Learner, *, completed_on: date, hours: Decimal, kind: str, title: str,
               provider: str = "", source: str, course: Course | None = None,
               external_id: str = "") -> TrainingRecord | None:  # fmt: skip
    """One record and its hours added to the learner's totals, in one transaction; None
    when a record with the same source id exists (an import run twice adds nothing)."""
    if kind not in HoursKind.values:
        raise TrainingError(_("Unknown kind of hours %(kind)s.") % {"kind": kind})
    if hours <= 0 or hours > 1000:
        raise TrainingError(_("Hours must be between 0 and 1000."))
    with transaction.atomic():
        if (
            external_id
            and TrainingRecord.objects.filter(
                learner=learner, source=source, external_id=external_id
            ).exists()
        ):
            return None
        record = TrainingRecord.objects.create(
            learner=learner, organisation_id=learner.organisation_id, completed_on=completed_on,
            year=completed_on.year, hours=hours, kind=kind, title=title[:300],
            provider=provider[:200], source=source, course=course, external_id=external_id,
        )  # fmt: skip
        total, _created = HoursTotal.objects.get_or_create(
            learner=learner, year=completed_on.year, kind=kind,
            defaults={"organisation_id": learner.organisation_id},
        )  # fmt: skip
        HoursTotal.objects.filter(pk=total.pk).update(hours=F("hours") + hours)
    return record


@dataclass(frozen=True)
class RecordMapping:
    """Which CSV column holds what, for a portal's export (names are case-insensitive)."""

    email: str = "email"
    staff_id: str = "staff_id"
    title: str = "title"
    date: str = "date"
    hours: str = "hours"
    kind: str = "kind"
    provider: str = "provider"
    record_id: str = "id"
    # Values of the kind column meaning professional / general (anything else: an error).
    professional: tuple[str, ...] = ("professional", "專業")
    general: tuple[str, ...] = ("general", "通識", "一般")

    @classmethod
    def of(cls, saved: PortalMapping) -> "RecordMapping":
        """The mapping an agency saved for a portal (an empty column: the default name)."""
        default = cls()

        def values(raw: str) -> tuple[str, ...]:
            return tuple(v.strip().lower() for v in raw.split(";") if v.strip())

        return cls(
            email=saved.email or default.email, staff_id=saved.staff_id or default.staff_id,
            title=saved.title, date=saved.date, hours=saved.hours, kind=saved.kind,
            provider=saved.provider or default.provider,
            record_id=saved.record_id or default.record_id,
            professional=values(saved.professional) or default.professional,
            general=values(saved.general) or default.general,
        )  # fmt: skip


MAPPING_FIELDS = ("email", "staff_id", "title", "date", "hours", "kind", "provider",
                  "record_id", "professional", "general")  # fmt: skip


def save_mapping(actor: User, org: Organisation, name: str, **columns: str) -> PortalMapping:
    """Create or replace the agency's column mapping for the portal called `name`."""
    require(actor, "training.manage_learners", org)
    name = name.strip()
    if not name:
        raise TrainingError(_("Name the portal."))
    unknown = set(columns) - set(MAPPING_FIELDS)
    if unknown:
        raise TrainingError(_("Unknown columns: %(cols)s.") % {"cols": ", ".join(sorted(unknown))})
    columns = {k: str(v).strip() for k, v in columns.items()}
    if not columns.get("email") and not columns.get("staff_id"):
        raise TrainingError(_("Name the e-mail column or the staff number column."))
    with transaction.atomic():
        mapping = PortalMapping.objects.filter(organisation=org, name=name).first()
        mapping = mapping or PortalMapping(organisation=org, name=name)
        for key, value in columns.items():
            setattr(mapping, key, value)
        mapping.full_clean()
        mapping.save()
        audit.record(actor, "training.save_mapping", org, organisation_id=org.pk,
                     changes={"portal": name, **columns})  # fmt: skip
    return mapping


def delete_mapping(actor: User, mapping: PortalMapping) -> None:
    require(actor, "training.manage_learners", mapping.organisation)
    with transaction.atomic():
        audit.record(actor, "training.delete_mapping", mapping.organisation,
                     organisation_id=mapping.organisation_id,
                     changes={"portal": mapping.name})  # fmt: skip
        mapping.delete()


@dataclass(frozen=True)
class PreviewRow:
    line: int
    learner: str  # the learner matched ("" when none)
    fields: dict[str, Any]  # what would be recorded (empty when the row has an error)
    error: str


def _check_header(header: list[str], mapping: RecordMapping) -> None:
    needed = [mapping.title.lower(), mapping.date.lower(), mapping.hours.lower()]
    missing = [c for c in needed if c not in header]
    if mapping.email.lower() not in header and mapping.staff_id.lower() not in header:
        missing.append(f"{mapping.email} / {mapping.staff_id}")
    if missing:
        raise TrainingError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})


def _learner_of(row: Mapping[str, str], mapping: RecordMapping,
                by_email: dict[str, Learner], by_staff: dict[str, Learner]) -> Learner:  # fmt: skip
    learner = by_email.get(row.get(mapping.email.lower(), "").lower()) or by_staff.get(
        row.get(mapping.staff_id.lower(), "")
    )
    if learner is None:
        raise TrainingError(_("No learner of this agency with that e-mail or staff number."))
    return learner


def preview_records(
    actor: User, org: Organisation, text: str, mapping: RecordMapping | None = None,
    limit: int = 10,
) -> tuple[list[str], list[PreviewRow]]:  # fmt: skip
    """The file's columns and its first rows as they would be imported with this mapping,
    each with its error; nothing is written."""
    require(actor, "training.manage_learners", org)
    mapping = mapping or RecordMapping()
    header, rows = csv_rows(text)
    _check_header(header, mapping)
    by_email = {l.email: l for l in Learner.objects.filter(organisation=org)}  # noqa: E741
    by_staff = {l.staff_id: l for l in by_email.values()}  # noqa: E741
    shown = []
    for line, row in rows[:limit]:
        learner_name = ""
        try:
            learner = _learner_of(row, mapping, by_email, by_staff)
            learner_name = str(learner)
            fields = _record_fields(row, mapping)
        except TrainingError as exc:
            shown.append(PreviewRow(line, learner_name, {}, str(exc)))
            continue
        shown.append(PreviewRow(line, learner_name, fields, ""))
    return header, shown


def import_records(
    actor: User, org: Organisation, text: str, mapping: RecordMapping | None = None
) -> ImportResult:
    """Import outside training records (a government e-learning portal's CSV) for an
    agency's learners, matched by e-mail or staff number; each bad row is reported with
    its line and reason; a row already imported (same record id) is skipped."""
    require(actor, "training.manage_learners", org)
    mapping = mapping or RecordMapping()
    header, rows = csv_rows(text)
    _check_header(header, mapping)
    by_email = {l.email: l for l in Learner.objects.filter(organisation=org)}  # noqa: E741
    by_staff = {l.staff_id: l for l in by_email.values()}  # noqa: E741
    result = ImportResult()
    with transaction.atomic():
        for line, row in rows:
            try:
                learner = _learner_of(row, mapping, by_email, by_staff)
                record = add_record(learner, **_record_fields(row, mapping))
            except TrainingError as exc:
                result.errors.append((line, str(exc)))
                continue
            if record is None:
                result.skipped += 1
            else:
                result.created += 1
        audit.record(actor, "training.import_records", org, organisation_id=org.pk,
                     changes={"created": result.created, "skipped": result.skipped,
                              "errors": len(result.errors)})  # fmt: skip
    return result


def _record_fields(row: Mapping[str, str], mapping: RecordMapping) -> dict[str, Any]:
    raw_date = row.get(mapping.date.lower(), "")
    try:
        completed_on = date.fromisoformat(raw_date.replace("/", "-"))
    except ValueError as exc:
        raise TrainingError(
            _("%(value)s is not a date (YYYY-MM-DD).") % {"value": raw_date}
        ) from exc
    raw_hours = row.get(mapping.hours.lower(), "")
    try:
        hours = Decimal(raw_hours).quantize(Decimal("0.1"))
    except InvalidOperation as exc:
        raise TrainingError(
            _("%(value)s is not a number of hours.") % {"value": raw_hours}
        ) from exc
    raw_kind = row.get(mapping.kind.lower(), "").strip().lower()
    if raw_kind in mapping.professional:
        kind = HoursKind.PROFESSIONAL
    elif raw_kind in mapping.general:
        kind = HoursKind.GENERAL
    else:
        raise TrainingError(
            _("%(value)s is neither general nor professional.") % {"value": raw_kind}
        )
    title = row.get(mapping.title.lower(), "")
    if not title:
        raise TrainingError(_("The title is empty."))
    return {
        "completed_on": completed_on, "hours": hours, "kind": str(kind), "title": title,
        "provider": row.get(mapping.provider.lower(), ""), "source": RecordSource.IMPORT,
        "external_id": row.get(mapping.record_id.lower(), "")[:200],
    }  # fmt: skip


def send_reminders(actor: User, org: Organisation, year: int, behind: list[Learner]) -> int:
    """E-mail each learner who is behind for the year what they still miss (the caller
    passes the selector's list, so the page and the mail agree)."""
    require(actor, "training.manage_learners", org)
    with transaction.atomic():
        for learner in behind:
            subject = _("Security training hours for %(year)d") % {"year": year}
            body = _(
                "Your agency's records show you have not yet completed the security training "
                "hours required for %(year)d. Sign in to your training to see what is left."
            ) % {"year": year}
            emails = [learner.email]
            transaction.on_commit(
                lambda s=subject, b=body, e=emails: send_email.enqueue(s, b, e)  # type: ignore[misc]
            )
        audit.record(actor, "training.remind", org, organisation_id=org.pk,
                     changes={"year": year, "reminded": len(behind)})  # fmt: skip
    return len(behind)


# --- xAPI ---------------------------------------------------------------------------------


def xapi_statements(records: Iterable[TrainingRecord], base_url: str) -> list[dict[str, Any]]:
    """The records as xAPI 1.0.3 statements (a read: the caller passes `visible_to` rows)."""
    namespace = base_url.rstrip("/") + "/training"
    out = []
    for record in records:
        course = record.course
        activity = (
            f"{namespace}/courses/{course.code}"
            if course is not None
            else f"{namespace}/records/{record.pk}"
        )
        out.append(xapi.to_statement(xapi.RecordOut(
            record_key=f"record:{record.pk}", email=record.learner.email,
            name=record.learner.name, activity_id=activity, title=record.title,
            title_zh_hant=course.title_zh_hant if course is not None else "",
            completed_on=record.completed_on, hours=record.hours, kind=record.kind,
        ), namespace))  # fmt: skip
    return out


def import_statements(actor: User, org: Organisation, statements: Any) -> ImportResult:
    """Records out of xAPI statements (a list, as a learning record store returns them)
    for the agency's learners; a statement imported before (same id) is skipped, one that
    breaks the xAPI rules or is not a completion is reported with its position."""
    require(actor, "training.manage_learners", org)
    if isinstance(statements, dict) and isinstance(statements.get("statements"), list):
        statements = statements["statements"]
    if not isinstance(statements, list):
        raise TrainingError(_("Send a list of xAPI statements."))
    if len(statements) > MAX_IMPORT_ROWS:
        raise TrainingError(_("At most %(n)d rows per file.") % {"n": MAX_IMPORT_ROWS})
    by_email = {learner.email: learner for learner in Learner.objects.filter(organisation=org)}
    result = ImportResult()
    with transaction.atomic():
        for index, statement in enumerate(statements, start=1):
            try:
                found = xapi.from_statement(statement)
                learner = by_email.get(found.email)
                if learner is None:
                    raise TrainingError(_("No learner of this agency with that e-mail."))
                record = add_record(learner, completed_on=found.completed_on, hours=found.hours,
                                    kind=found.kind, title=found.title, source=RecordSource.XAPI,
                                    external_id=found.statement_id)  # fmt: skip
            except (xapi.StatementError, TrainingError) as exc:
                result.errors.append((index, str(exc)))
                continue
            if record is None:
                result.skipped += 1
            else:
                result.created += 1
        audit.record(actor, "training.import_xapi", org, organisation_id=org.pk,
                     changes={"created": result.created, "skipped": result.skipped,
                              "errors": len(result.errors)})  # fmt: skip
    return result
