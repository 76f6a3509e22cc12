"""Every write of drills: campaigns and their recipients, sending, tracked events,
improvement plans and the compliance calendar. People's actions are audited; a tracked
request is data (one `DrillEvent`), not an audit entry."""

import contextlib
import csv
import fcntl
import io
import logging
import os
import re
import secrets
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Membership, Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.core.services import notify
from bulwark.drills import calendar, mail, tasks
from bulwark.drills.engine import classify as classifier
from bulwark.drills.engine import schedule
from bulwark.drills.models import (
    Campaign,
    CampaignAgency,
    DrillEvent,
    DrillNotice,
    DrillObligation,
    EventKind,
    ImprovementPlan,
    Recipient,
)
from bulwark.drills.selectors import agency_results
from bulwark.incidents import services as incidents
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.incidents.taxonomy import RSIT

TOKEN_IN_TEXT = re.compile(r"/d/([A-Za-z0-9_-]{20,64})/")
MAX_IMPORT_ROWS = 50_000
log = logging.getLogger("bulwark.drills")
PLAN_DAYS = 30  # an improvement plan is due a month after the campaign finishes


def new_token() -> str:
    return secrets.token_urlsafe(24)


# --- campaigns -----------------------------------------------------------------------


@transaction.atomic
def create_campaign(
    actor: User, *, organisations: Iterable[Organisation], **fields: Any
) -> Campaign:
    require(actor, "drill.run")
    campaign = Campaign(created_by=actor, **fields)
    campaign.full_clean()
    campaign.save()
    for organisation in organisations:
        CampaignAgency.objects.create(campaign=campaign, organisation=organisation)
    audit.record(actor, "drill.campaign_created", campaign)
    return campaign


def _editable(campaign: Campaign) -> None:
    state = Campaign.objects.filter(pk=campaign.pk).values_list("state", flat=True).first()
    if state != Campaign.State.DRAFT:
        raise ValidationError(_("Recipients can only be changed while the campaign is a draft."))


@dataclass
class ImportResult:
    added: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _organisation_index(campaign: Campaign) -> dict[str, Organisation]:
    index: dict[str, Organisation] = {}
    for participant in campaign.participants.select_related("organisation"):
        org = participant.organisation
        for key in (str(org.pk), org.name, org.short_name):
            if key:
                index[key.strip().casefold()] = org
    return index


@transaction.atomic
def import_recipients(actor: User, campaign: Campaign, data: str) -> ImportResult:
    """Recipients from CSV (header: email, organisation, name, department, language).
    All or nothing: any bad row is reported with its line number and nothing is added,
    so a corrected file can be imported again as a whole."""
    require(actor, "drill.run", campaign)
    _editable(campaign)
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    columns = {c.strip().lower() for c in (reader.fieldnames or [])}
    missing = {"email", "organisation"} - columns
    if missing:
        result.errors.append((1, _("Missing columns: %(c)s.") % {"c": ", ".join(sorted(missing))}))
        return result
    index = _organisation_index(campaign)
    known = set(campaign.recipients.values_list("email", flat=True))
    rows: list[Recipient] = []
    for line, raw in enumerate(reader, start=2):
        if line > MAX_IMPORT_ROWS + 1:
            result.errors.append((line, _("More than %(n)s rows.") % {"n": MAX_IMPORT_ROWS}))
            break
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        email = row.get("email", "").lower()
        try:
            validate_email(email)
        except ValidationError:
            result.errors.append((line, _("“%(e)s” is not an e-mail address.") % {"e": email}))
            continue
        if email in known:
            result.errors.append((line, _("%(e)s is listed twice.") % {"e": email}))
            continue
        org = index.get(row.get("organisation", "").casefold())
        if org is None:
            result.errors.append(
                (line, _("“%(o)s” does not take part in this campaign.")
                 % {"o": row.get("organisation", "")})
            )  # fmt: skip
            continue
        language = (row.get("language") or "zh-hant").lower().replace("_", "-")
        if language in ("zh", "zh-tw", "zh-hant-tw"):
            language = "zh-hant"
        if language not in Recipient.Language.values:
            result.errors.append(
                (line, _("Language “%(l)s”: use en or zh-hant.") % {"l": row.get("language")})
            )
            continue
        known.add(email)
        rows.append(
            Recipient(
                campaign=campaign,
                organisation=org,
                email=email,
                name=row.get("name", "")[:200],
                department=row.get("department", "")[:200],
                language=language,
                token=new_token(),
            )
        )
    if result.errors:
        return result
    Recipient.objects.bulk_create(rows, batch_size=1000)
    result.added = len(rows)
    audit.record(actor, "drill.recipients_imported", campaign, changes={"added": result.added})
    return result


@transaction.atomic
def add_staff(actor: User, campaign: Campaign, organisation: Organisation) -> int:
    """Every active member of a participating organisation, in their own language."""
    require(actor, "drill.run", campaign)
    _editable(campaign)
    if not campaign.participants.filter(organisation=organisation).exists():
        raise ValidationError(_("This organisation does not take part in this campaign."))
    known = set(campaign.recipients.values_list("email", flat=True))
    rows = []
    users = User.objects.filter(
        pk__in=Membership.objects.filter(organisation=organisation).values("user_id"),
        is_active=True,
    )
    for user in users:
        email = user.email.lower()
        if not email or email in known:
            continue
        known.add(email)
        language = "en" if (user.preferred_language or "").startswith("en") else "zh-hant"
        rows.append(
            Recipient(
                campaign=campaign,
                organisation=organisation,
                email=email,
                name=user.get_full_name(),
                language=language,
                token=new_token(),
            )
        )
    Recipient.objects.bulk_create(rows, batch_size=1000)
    audit.record(
        actor, "drill.staff_added", campaign, changes={"added": len(rows)},
        organisation_id=organisation.pk,
    )  # fmt: skip
    return len(rows)


def plan_sending(campaign: Campaign) -> int:
    """Give every unsent recipient a send time (business hours in its agency's zone,
    spread with jitter, rate-limited per domain). Returns how many were planned."""
    zones = dict(campaign.participants.values_list("organisation_id", "time_zone"))
    people = [
        schedule.Addressee(pk, email, zones.get(org_id) or settings.TIME_ZONE)
        for pk, email, org_id in campaign.recipients.filter(sent_at__isnull=True).values_list(
            "pk", "email", "organisation_id"
        )
    ]
    window = schedule.Window(
        start=max(campaign.starts_at, timezone.now()),
        days=campaign.spread_days,
        day_start=campaign.day_start,
        day_end=campaign.day_end,
        per_domain_per_hour=campaign.per_domain_per_hour,
        seed=campaign.pk,
    )
    planned = schedule.plan(people, window)
    # One prepared UPDATE per row (executemany): Django's bulk_update builds a CASE over
    # every row of a batch, 13.9 s for 20,000 rows (bench/drills_tracking.py).
    table = connection.ops.quote_name(Recipient._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET send_at = %s WHERE id = %s",  # noqa: S608  (our table name)
            [(adapt(at), pk) for pk, at in planned.items()],
        )
    return len(planned)


@transaction.atomic
def launch(actor: User, campaign: Campaign) -> Campaign:
    require(actor, "drill.run", campaign)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state != Campaign.State.DRAFT:
        raise ValidationError(_("Only a draft campaign can be launched."))
    if not campaign.recipients.exists():
        raise ValidationError(_("Add recipients before launching."))
    for zone in campaign.participants.values_list("time_zone", flat=True):
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(_("Unknown time zone %(z)s.") % {"z": zone}) from None
    planned = plan_sending(campaign)
    campaign.state = Campaign.State.SCHEDULED
    campaign.launched_at = timezone.now()
    campaign.save(update_fields=["state", "launched_at"])
    audit.record(actor, "drill.campaign_launched", campaign, changes={"planned": planned})
    transaction.on_commit(lambda: tasks.send_campaign.enqueue(campaign.pk))
    return campaign


def _set_state(actor: User, campaign: Campaign, to: str, allowed: set[str], verb: str) -> Campaign:
    require(actor, "drill.run", campaign)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state not in allowed:
        raise ValidationError(
            _("A %(state)s campaign cannot be %(verb)s.")
            % {"state": campaign.get_state_display().lower(), "verb": verb}
        )
    before = campaign.state
    campaign.state = to
    fields = ["state"]
    if to in (Campaign.State.STOPPED, Campaign.State.FINISHED):
        campaign.finished_at = timezone.now()
        fields.append("finished_at")
    campaign.save(update_fields=fields)
    audit.record(actor, f"drill.campaign_{to}", campaign, changes={"state": [before, to]})
    return campaign


@transaction.atomic
def pause(actor: User, campaign: Campaign) -> Campaign:
    """Takes effect before the next message: the sender reads the state before each."""
    S = Campaign.State
    return _set_state(actor, campaign, S.PAUSED, {S.SCHEDULED, S.RUNNING}, _("paused"))


@transaction.atomic
def resume(actor: User, campaign: Campaign) -> Campaign:
    campaign = _set_state(
        actor, campaign, Campaign.State.RUNNING, {Campaign.State.PAUSED}, _("resumed")
    )
    plan_sending(campaign)  # the old times have passed: plan the rest again from now
    transaction.on_commit(lambda: tasks.send_campaign.enqueue(campaign.pk))
    return campaign


@transaction.atomic
def stop(actor: User, campaign: Campaign) -> Campaign:
    """No further message is sent; tracking still records what recipients do."""
    S = Campaign.State
    return _set_state(actor, campaign, S.STOPPED, {S.SCHEDULED, S.RUNNING, S.PAUSED}, _("stopped"))


@transaction.atomic
def finish(actor: User, campaign: Campaign) -> Campaign:
    """Close the campaign and require an improvement plan from each failing agency."""
    S = Campaign.State
    campaign = _set_state(
        actor, campaign, S.FINISHED, {S.RUNNING, S.STOPPED, S.SCHEDULED}, _("finished")
    )
    demand_plans(campaign)
    return campaign


def demand_plans(campaign: Campaign) -> int:
    due = timezone.now() + timedelta(days=PLAN_DAYS)
    made = 0
    for row in agency_results(campaign):
        if row.passed is False:
            _plan, created = ImprovementPlan.objects.get_or_create(
                campaign=campaign, organisation_id=row.organisation_id, defaults={"due_at": due}
            )
            made += created
    return made


# --- sending -------------------------------------------------------------------------


def _still_sending(campaign_id: int) -> bool:
    state = Campaign.objects.filter(pk=campaign_id).values_list("state", flat=True).first()
    return state in (Campaign.State.SCHEDULED, Campaign.State.RUNNING)


def send_due(campaign_id: int, now: datetime | None = None, limit: int = 500) -> int:
    """Send the campaign's messages whose time has come, reading the campaign's state
    before each one, so pause and stop take effect at once. Each message's outcome
    (sent, or bounced with the server's answer) is recorded as it is known."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("sending_profile").get(pk=campaign_id)
    due = list(
        campaign.recipients.filter(sent_at__isnull=True, bounced=False, send_at__lte=now).order_by(
            "send_at", "pk"
        )[:limit]
    )
    if not due or not _still_sending(campaign_id):
        return 0
    connection = mail.connection_for(campaign.sending_profile)
    sent = 0
    try:
        connection.open()
    except OSError as exc:
        for recipient in due:
            Recipient.objects.filter(pk=recipient.pk).update(
                error=f"{type(exc).__name__}: {exc}"[:500]
            )
        return 0
    try:
        for recipient in due:
            if not _still_sending(campaign_id):
                break
            try:
                mail.build(campaign, recipient, connection).send()
            except Exception as exc:  # the relay refused this recipient: a bounce
                record_outcome(recipient, error=f"{type(exc).__name__}: {exc}")
                continue
            record_outcome(recipient)
            sent += 1
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return sent


@transaction.atomic
def record_outcome(recipient: Recipient, error: str = "", at: datetime | None = None) -> None:
    now = at or timezone.now()
    if error:
        Recipient.objects.filter(pk=recipient.pk).update(bounced=True, error=error[:500])
        kind = EventKind.BOUNCED
    else:
        Recipient.objects.filter(pk=recipient.pk).update(sent_at=now, error="")
        kind = EventKind.SENT
        Campaign.objects.filter(pk=recipient.campaign_id, state=Campaign.State.SCHEDULED).update(
            state=Campaign.State.RUNNING
        )
    DrillEvent.objects.create(
        recipient_id=recipient.pk, campaign_id=recipient.campaign_id, kind=kind, at=now
    )


def campaigns_to_send(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Campaign.objects.filter(
            state__in=[Campaign.State.SCHEDULED, Campaign.State.RUNNING],
            recipients__sent_at__isnull=True,
            recipients__bounced=False,
            recipients__send_at__lte=now,
        )
        .values_list("pk", flat=True)
        .distinct()
    )


# --- tracking ------------------------------------------------------------------------
#
# The hot path (docs/drills.md, "Performance"): a tracking request is served before the
# session and authentication middleware (`drills.middleware`), the recipient is looked up
# once per token and process, and each hit is a handful of plain SQL statements in one
# transaction: no ORM object is built.


@dataclass(frozen=True)
class Target:
    """What the tracking path needs of a recipient. Kept per token once the message is
    delivered: none of it changes after that (recipients and campaign fields are fixed
    once a campaign leaves its draft, and `sent_at` is written once)."""

    recipient_id: int
    campaign_id: int
    organisation_id: int
    email: str
    language: str
    sent_at: datetime | None
    course_code: str


@dataclass(frozen=True)
class Tracked:
    recipient: Target
    automated: str  # the reason a machine made the request, "" for a person


FOLLOW_UP_WINDOW = timedelta(minutes=10)
TARGETS_KEPT = 200_000  # tokens kept per process (about 200 bytes each)
_targets: dict[str, Target] = {}

_E = DrillEvent._meta.db_table
_R = Recipient._meta.db_table
_LINKS = ", ".join(f"'{k}'" for k in sorted(classifier.MAIL_LINKS))
_OPENS = ", ".join(f"'{k}'" for k in ("opened", "clicked", "attachment", "submitted"))
_CLICKS, _SUBMITS, _REPORTS = "'clicked'", "'submitted'", "'reported'"
SQL_TARGET = (
    "SELECT r.id, r.campaign_id, r.organisation_id, r.email, r.language, r.sent_at,"  # noqa: S608
    f" c.course_code FROM {_R} r JOIN {Campaign._meta.db_table} c ON c.id = r.campaign_id"
    " WHERE r.token = %s AND c.state <> %s"
)
SQL_LOCK = f"SELECT id FROM {_R} WHERE id = %s FOR UPDATE"  # noqa: S608 - the model's table
SQL_EARLIER = (
    f"SELECT id, at FROM {_E} WHERE recipient_id = %s AND at >= %s AND at <= %s"  # noqa: S608
    f" AND kind IN ({_LINKS})"
)
SQL_INSERT = (
    f"INSERT INTO {_E} (recipient_id, campaign_id, kind, at, automated, ip, agent)"  # noqa: S608
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
SQL_CONFIRM = (
    f"UPDATE {_E} SET automated = '' WHERE recipient_id = %s AND kind = 'clicked'"  # noqa: S608
    " AND automated = %s AND at >= %s AND at <= %s"
)


def _first(kinds: str) -> str:
    return (
        f"(SELECT MIN(e.at) FROM {_E} e WHERE e.recipient_id = {_R}.id AND e.automated = ''"  # noqa: S608
        f" AND e.kind IN ({kinds}))"
    )


# A person's outcome, recomputed from their own events (a few rows, read through the
# (recipient, at) index) whenever one is added or reclassified: right by construction.
SQL_ROLL_UP = (
    f"UPDATE {_R} SET opened_at = {_first(_OPENS)}, clicked_at = {_first(_CLICKS)},"  # noqa: S608
    f" submitted_at = {_first(_SUBMITS)}, reported_at = {_first(_REPORTS)},"
    f" automated_events = (SELECT COUNT(*) FROM {_E} e WHERE e.recipient_id = {_R}.id"
    " AND e.automated <> '')"
)


def roll_up(recipient_ids: Iterable[int] | None = None) -> None:
    """Recompute the outcome columns of these recipients (None: all) from their events."""
    with connection.cursor() as cursor:
        if recipient_ids is None:
            cursor.execute(SQL_ROLL_UP)
        else:
            for pk in recipient_ids:
                cursor.execute(f"{SQL_ROLL_UP} WHERE id = %s", [pk])


def _target(row: tuple[Any, ...]) -> Target:
    pk, campaign_id, organisation_id, email, language, sent_at, course_code = row
    return Target(
        pk, campaign_id, organisation_id, email, language,
        _aware(sent_at) if sent_at is not None else None, course_code,
    )  # fmt: skip


# A campaign's delivered recipients, loaded at once on the first request for one of them
# (one query instead of one per person: most people make one or two requests).
SQL_CAMPAIGN_TARGETS = (
    "SELECT r.token, r.id, r.campaign_id, r.organisation_id, r.email, r.language,"  # noqa: S608
    f" r.sent_at, c.course_code FROM {_R} r JOIN {Campaign._meta.db_table} c"
    " ON c.id = r.campaign_id WHERE r.campaign_id = %s AND r.sent_at IS NOT NULL"
    " AND c.state <> %s"
)
_campaigns_loaded: set[int] = set()


def _keep(token: str, target: Target) -> None:
    if len(_targets) >= TARGETS_KEPT:
        _targets.clear()
        _campaigns_loaded.clear()
    _targets[token] = target


def target_of(token: str) -> Target | None:
    """The recipient behind a token (None: unknown, or its campaign is still a draft)."""
    found = _targets.get(token)
    if found is not None:
        return found
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_native(SQL_TARGET), [token, Campaign.State.DRAFT])
        row = cursor.fetchone()
        if row is None:
            return None
        target = _target(row)
        if target.sent_at is not None:  # before delivery `sent_at` is still to be written
            _keep(token, target)
            if target.campaign_id not in _campaigns_loaded:
                # Only performance depends on this set: a token not kept is looked up.
                _campaigns_loaded.add(target.campaign_id)
                cursor.execute(
                    _native(SQL_CAMPAIGN_TARGETS), [target.campaign_id, Campaign.State.DRAFT]
                )
                rows = cursor.fetchall()
                if len(_targets) + len(rows) <= TARGETS_KEPT:
                    for other in rows:
                        _targets.setdefault(other[0], _target(other[1:]))
    finally:
        cursor.close()
    return target


def _column(kind: str) -> list[str]:
    """The outcome columns a human event of this kind may set (its first time)."""
    columns = ["opened_at"] if kind in ("opened", "clicked", "attachment", "submitted") else []
    extra = {"clicked": "clicked_at", "submitted": "submitted_at", "reported": "reported_at"}
    return columns + ([extra[kind]] if kind in extra else [])


def _earliest(column: str) -> str:
    return f"{column} = CASE WHEN {column} IS NULL OR {column} > %s THEN %s ELSE {column} END"


# The incremental roll-up of one new event when nothing earlier was reclassified: the
# columns were right before (every writer rolls up), so one added row can only count as
# automated or move a first-time column earlier. A reclassification recomputes.
SQL_COUNT_AUTOMATED = f"UPDATE {_R} SET automated_events = automated_events + 1 WHERE id = %s"  # noqa: S608
SQL_EARLIEST = {
    kind: f"UPDATE {_R} SET {', '.join(_earliest(c) for c in _column(kind))} WHERE id = %s"  # noqa: S608
    for kind in ("opened", "clicked", "attachment", "submitted")
}
SQL_BURST = f"UPDATE {_E} SET automated = %s WHERE id = %s"  # noqa: S608
_SQLITE_SQL: dict[str, str] = {}


def _native(sql: str) -> str:
    """The statement in the driver's own placeholders: the tracking path runs on the
    driver's cursor (Django's wrapper costs about as much as SQLite's execution of the
    statement), so SQLite's `?` instead of `%s`."""
    if connection.vendor != "sqlite":
        return sql
    found = _SQLITE_SQL.get(sql)
    if found is None:
        found = _SQLITE_SQL[sql] = sql.replace("%s", "?")
    return found


# SQLite has one writer at a time. A waiting writer polls (sleeps of 1 to 100 ms), which
# made the tracking path's p99 ten times its median with 2 workers x 8 threads. The
# tracking writers of one database queue instead on a lock that wakes the next one at
# once: a thread lock within the process and an flock(2) on a file beside the database
# between processes (released by the kernel if a process dies).
_writer_lock = threading.Lock()
_lock_files: dict[str, int] = {}


@contextlib.contextmanager
def _sqlite_writer() -> Iterator[None]:
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        with _writer_lock:
            yield
        return
    with _writer_lock:
        fd = _lock_files.get(name)
        if fd is None:
            fd = _lock_files[name] = os.open(f"{name}-tracking.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def _tracking_transaction() -> Iterator[tuple[Any, list[Callable[[], Any]]]]:
    """The driver's cursor in one transaction, committed before this returns; the
    callables appended to the list run after the commit (the training enrolment). Inside
    a caller's transaction (a test, a service) a savepoint of it."""
    after: list[Callable[[], Any]] = []
    if connection.in_atomic_block:
        with transaction.atomic():
            yield connection.connection.cursor(), after
            for call in after:
                transaction.on_commit(call, robust=True)
        return
    connection.ensure_connection()
    raw = connection.connection
    sqlite = connection.vendor == "sqlite"
    with _sqlite_writer() if sqlite else contextlib.nullcontext():
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
        try:
            yield cursor, after
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
    for call in after:
        try:
            call()
        except Exception:
            log.exception("drills: after a tracked event")


def record_hit(
    token: str, kind: str, *, method: str = "GET", ip: str = "", agent: str = "",
    at: datetime | None = None,
) -> Tracked | None:  # fmt: skip
    """One tracking request, recorded exactly once (one committed row before the answer
    leaves) and classified human or automated. A click counts as human only once the
    landing page it leads to is loaded by a browser (its image): gateways fetch the link
    but not the page's resources. Nothing of the request body is ever read here: a
    submit is recorded as a flag."""
    target = target_of(token)
    if target is None:
        return None
    at = at or timezone.now()
    agent = agent[:300]
    data = classifier.known()
    hit = classifier.Hit(kind, at, method, ip, agent, target.sent_at)
    reason = classifier.classify(hit, (), data)  # what the request alone tells
    ops = connection.ops
    when = ops.adapt_datetimefield_value(at)
    rid = target.recipient_id
    with _tracking_transaction() as (cursor, after):
        reclassified = False
        if connection.features.has_select_for_update:
            # One person's requests one at a time (SQLite's IMMEDIATE transactions already
            # serialise every writer), so a burst spread over workers is still seen whole.
            cursor.execute(SQL_LOCK, [rid])
        if not reason and kind in classifier.MAIL_LINKS:
            since = ops.adapt_datetimefield_value(at - timedelta(seconds=data.burst_seconds))
            cursor.execute(_native(SQL_EARLIER), [rid, since, when])
            earlier = cursor.fetchall()
            if classifier.burst(hit, [_aware(t) for _pk, t in earlier], data):
                reason = classifier.BURST
                for pk, _t in earlier:
                    cursor.execute(_native(SQL_BURST), [classifier.BURST, pk])
                reclassified = bool(earlier)
        if kind == EventKind.CLICKED and not reason:
            reason = classifier.NO_FOLLOW_UP  # until the landing page is seen
        confirmed = 0
        if kind == EventKind.PAGE and not reason:
            start = ops.adapt_datetimefield_value(at - FOLLOW_UP_WINDOW)
            cursor.execute(_native(SQL_CONFIRM), [rid, classifier.NO_FOLLOW_UP, start, when])
            confirmed = cursor.rowcount
            reclassified = reclassified or confirmed > 0
        cursor.execute(
            _native(SQL_INSERT),
            [rid, target.campaign_id, kind, when, reason, ops.adapt_ipaddressfield_value(ip),
             agent],
        )  # fmt: skip
        if reclassified:
            cursor.execute(_native(f"{SQL_ROLL_UP} WHERE id = %s"), [rid])
        elif reason:
            cursor.execute(_native(SQL_COUNT_AUTOMATED), [rid])
        elif kind in SQL_EARLIEST:
            columns = len(_column(kind))
            cursor.execute(_native(SQL_EARLIEST[kind]), [when, when] * columns + [rid])
        if target.course_code and (confirmed or (kind == EventKind.SUBMITTED and not reason)):
            after.append(lambda: enrol_in_training(target))
    return Tracked(target, reason)


def _aware(value: Any) -> datetime:
    """A datetime read by plain SQL (SQLite answers text, PostgreSQL an aware value)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value  # type: ignore[no-any-return]


def enrol_in_training(target: Target) -> bool:
    """The drills -> training link: a person who clicked (confirmed by the landing page)
    or submitted is enrolled in the campaign's course, once, when the training app is
    installed (one-way: drills never imports training). False when it is not installed,
    or the training app finds no such learner or published course, or enrolled them
    already."""
    from bulwark.core import registry

    if not target.course_code or not registry.TRAINING_ENROLMENT.installed:
        return False
    return registry.TRAINING_ENROLMENT.call(
        target.organisation_id, target.email, target.course_code
    )


def token_in(text: str) -> str:
    """The first drill token quoted in a text (a forwarded drill mail's links)."""
    match = TOKEN_IN_TEXT.search(text)
    return match.group(1) if match else ""


@transaction.atomic
def record_report(token: str, *, at: datetime | None = None) -> DrillEvent | None:
    """A recipient forwarded the drill mail to their report address: counted once per
    recipient (a second forward of the same mail adds nothing)."""
    recipient = Recipient.objects.filter(token=token).first()
    if recipient is None:
        return None
    existing = DrillEvent.objects.filter(recipient=recipient, kind=EventKind.REPORTED).first()
    if existing is not None:
        return existing
    event = DrillEvent.objects.create(
        recipient=recipient, campaign_id=recipient.campaign_id, kind=EventKind.REPORTED,
        at=at or timezone.now(),
    )  # fmt: skip
    roll_up([recipient.pk])
    return event


@transaction.atomic
def record_bounce(token: str, *, at: datetime | None = None) -> DrillEvent | None:
    """A delivery status notification quoting a drill message: the address bounced."""
    recipient = Recipient.objects.filter(token=token).first()
    if recipient is None:
        return None
    Recipient.objects.filter(pk=recipient.pk).update(bounced=True)
    existing = DrillEvent.objects.filter(recipient=recipient, kind=EventKind.BOUNCED).first()
    if existing is not None:
        return existing
    return DrillEvent.objects.create(
        recipient=recipient, campaign_id=recipient.campaign_id, kind=EventKind.BOUNCED,
        at=at or timezone.now(),
    )  # fmt: skip


# --- improvement plans ---------------------------------------------------------------


@transaction.atomic
def file_plan(actor: User, plan: ImprovementPlan, *, measures: str) -> ImprovementPlan:
    require(actor, "drill.plan", plan)
    measures = measures.strip()
    if len(measures) < 20:
        raise ValidationError({"measures": _("Describe the measures (at least 20 characters).")})
    if plan.state in (ImprovementPlan.State.ACCEPTED, ImprovementPlan.State.CLOSED):
        raise ValidationError(_("This plan is already accepted."))
    plan.measures = measures
    plan.state = ImprovementPlan.State.FILED
    plan.filed_at = timezone.now()
    plan.filed_by = actor
    plan.save()
    audit.record(actor, "drill.plan_filed", plan, organisation_id=plan.organisation_id)
    return plan


@transaction.atomic
def close_plan(actor: User, plan: ImprovementPlan, *, note: str) -> ImprovementPlan:
    """The CERT closes a filed plan once its measures are in place."""
    require(actor, "drill.run", plan)
    if plan.state not in (ImprovementPlan.State.FILED, ImprovementPlan.State.ACCEPTED):
        raise ValidationError(_("Only a filed plan can be closed."))
    plan.state = ImprovementPlan.State.CLOSED
    plan.closed_at = timezone.now()
    plan.closing_note = note.strip()
    plan.save()
    audit.record(actor, "drill.plan_closed", plan, organisation_id=plan.organisation_id)
    return plan


# --- compliance calendar -------------------------------------------------------------


@transaction.atomic
def plan_calendar(
    actor: User | None, organisation: Organisation, *, level: str, year: int
) -> list[DrillObligation]:
    """The statutory drills of `organisation` for `year`, from the jurisdiction profile's
    data for its responsibility level (idempotent)."""
    if actor is not None:
        require(actor, "drill.run")
    made = []
    for duty in calendar.duties(level, year):
        obligation, _created = DrillObligation.objects.get_or_create(
            organisation=organisation, kind=duty.kind, period_start=duty.period_start,
            defaults={"level": level, "due_at": duty.due_at, "results_due_days": duty.results_days},
        )  # fmt: skip
        made.append(obligation)
    audit.record(
        actor, "drill.calendar_planned", organisation, changes={"level": level, "year": year},
        organisation_id=organisation.pk,
    )  # fmt: skip
    return made


@transaction.atomic
def record_held(
    actor: User, obligation: DrillObligation, *, held_at: datetime,
    results_at: datetime | None = None, campaign: Campaign | None = None,
) -> DrillObligation:  # fmt: skip
    require(actor, "drill.record", obligation)
    if held_at > timezone.now() or (results_at is not None and results_at < held_at):
        raise ValidationError(_("A drill is recorded once held, and its results after it."))
    obligation.held_at = held_at
    obligation.results_at = results_at
    if campaign is not None:
        obligation.campaign = campaign
    obligation.save()
    audit.record(
        actor, "drill.obligation_held", obligation, organisation_id=obligation.organisation_id
    )
    return obligation


def unreminded_due(now: datetime, ahead: timedelta) -> Any:
    return DrillObligation.objects.filter(
        Q(held_at__isnull=True), due_at__lte=now + ahead, due_at__gte=now, reminded_at__isnull=True
    )


@transaction.atomic
def send_reminders(now: datetime | None = None, ahead: timedelta = timedelta(days=30)) -> int:
    """Remind each agency's admins of a statutory drill due within `ahead`, once."""
    now = now or timezone.now()
    sent = 0
    for obligation in unreminded_due(now, ahead).select_related("organisation"):
        admins = User.objects.filter(
            memberships__organisation=obligation.organisation, memberships__role="org_admin",
            is_active=True,
        )  # fmt: skip
        text = _("%(drill)s due by %(due)s.") % {
            "drill": obligation.get_kind_display(),
            "due": timezone.localtime(obligation.due_at).date().isoformat(),
        }
        notify(admins, "drill_due", text, url="/drills/calendar/")
        obligation.reminded_at = now
        obligation.save(update_fields=["reminded_at"])
        sent += 1
    return sent


# --- incident-response drills --------------------------------------------------------


@transaction.atomic
def send_notice(
    actor: User, organisation: Organisation, *, scenario: str, rsit_class: str, rsit_type: str,
    obligation: DrillObligation | None = None,
) -> DrillNotice:  # fmt: skip
    """Start an incident-response drill: the agency's reporters and admins are told the
    scenario; their clocks run from this moment (the awareness of the drill incident)."""
    require(actor, "drill.notify", organisation)
    if not scenario.strip():
        raise ValidationError({"scenario": _("Describe the scenario.")})
    if rsit_type not in RSIT.get(rsit_class, ()):
        raise ValidationError({"rsit_type": _("Choose a class and type from the taxonomy.")})
    notice = DrillNotice.objects.create(
        organisation=organisation, scenario=scenario.strip(), rsit_class=rsit_class,
        rsit_type=rsit_type, sent_by=actor, sent_at=timezone.now(), obligation=obligation,
    )  # fmt: skip
    people = User.objects.filter(
        memberships__organisation=organisation,
        memberships__role__in=["org_admin", "reporter"], is_active=True,
    ).distinct()  # fmt: skip
    notify(
        people, "drill_notice",
        _("Incident-response drill: report this scenario as a drill incident now."),
        url=f"/drills/notices/{notice.pk}/", subject=f"drillnotice:{notice.pk}",
    )  # fmt: skip
    audit.record(actor, "drill.notice_sent", notice, organisation_id=organisation.pk)
    return notice


@transaction.atomic
def report_drill(
    actor: User, notice: DrillNotice, *, title: str, description: str,
    answers: Answers | None = None,
) -> Incident:  # fmt: skip
    """The agency reports the drill incident through the incident system (`is_drill`),
    aware since the notice, so the notification clock measures the agency's reaction."""
    require(actor, "drill.respond", notice)
    notice = DrillNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.incident_id is not None:
        raise ValidationError(_("This drill incident is already reported."))
    incident = incidents.report_incident(
        actor, notice.organisation, title=title, description=description,
        rsit_class=notice.rsit_class, rsit_type=notice.rsit_type, aware_at=notice.sent_at,
        answers=answers or Answers(availability="minor"), is_drill=True,
    )  # fmt: skip
    notice.incident = incident
    notice.save(update_fields=["incident"])
    if notice.obligation_id is not None:
        DrillObligation.objects.filter(pk=notice.obligation_id, held_at__isnull=True).update(
            held_at=notice.sent_at
        )
    audit.record(actor, "drill.incident_reported", notice, organisation_id=notice.organisation_id)
    return incident
