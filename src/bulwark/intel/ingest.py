"""The bulk write path: checked STIX objects -> objects, values, provenance, indicators.

Called by `services.ingest_objects` inside its transaction. Rows are written with one
multi-row statement per table and batch (plain SQL through Django's connection, portable
between SQLite and PostgreSQL), because the ORM's per-object overhead would cap ingest
far below the 20 k objects/s target.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from bulwark.constituency.models import Organisation
from bulwark.core.bulk import collector_paused, insert_rows
from bulwark.core.tlp import TLP
from bulwark.intel import netkeys
from bulwark.intel.models import (
    Collection,
    Indicator,
    MarkingAlias,
    Provenance,
    StixObject,
    Value,
)
from bulwark.intel.stixcheck import Checked, Refused, check, tlp_of

BATCH = 1000
IDENTITY_NAMESPACE = uuid.UUID("6f1c6a0e-7a43-4b59-9c55-7b1f3c1ed2a1")


def organisation_identity(org_id: int) -> str:
    """The STIX identity id that stands for an organisation of the constituency."""
    return f"identity--{uuid.uuid5(IDENTITY_NAMESPACE, f'organisation:{org_id}')}"


def identity_map() -> dict[str, int]:
    return {
        organisation_identity(pk): pk for pk in Organisation.objects.values_list("pk", flat=True)
    }


@dataclass
class Context:
    collection: Collection
    user_id: int | None
    organisation_id: int | None
    trusted: bool  # CERT staff: may relay objects created by others
    status: str
    sharing_group_id: int | None = None
    category_id: int | None = None
    tlp_override: TLP | None = None
    red_recipient_ids: list[int] = field(default_factory=list)
    submission_id: int | None = None


@dataclass
class Outcome:
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0


def _version_text(value: datetime | None) -> str:
    if not value:
        return ""
    text = _VERSION_TEXTS.get(value)
    if text is None:
        if len(_VERSION_TEXTS) >= 65_536:
            _VERSION_TEXTS.clear()
        text = _VERSION_TEXTS[value] = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return text


_VERSION_TEXTS: dict[datetime, str] = {}


def _prepare(
    objects: Sequence[Any], ctx: Context, now: datetime, outcome: Outcome
) -> list[tuple[Checked, TLP, int | None]]:
    aliases = dict(MarkingAlias.objects.values_list("marking_id", "tlp"))
    known = {
        o.get("id")
        for o in objects
        if isinstance(o, dict) and o.get("type") == "marking-definition"
    }
    known |= set(
        StixObject.objects.filter(type="marking-definition").values_list("stix_id", flat=True)
    )
    identities = identity_map()
    own_identity = organisation_identity(ctx.organisation_id) if ctx.organisation_id else None
    default_tlp = TLP(ctx.collection.default_tlp)
    prepared = []
    for obj in objects:
        ident = obj.get("id") if isinstance(obj, dict) else None
        version = obj.get("modified") or obj.get("created") if isinstance(obj, dict) else None
        try:
            checked = check(obj)
            level, unknown = tlp_of(checked.marking_refs, aliases, known)  # type: ignore[arg-type]
            if unknown:
                raise Refused(f"unknown marking {unknown[:120]}: not TLP and not defined here")
            creator = checked.created_by_ref
            source = ctx.organisation_id
            if creator is not None and creator != own_identity:
                if not ctx.trusted:
                    raise Refused(
                        "created_by_ref names another organisation; share your own "
                        f"objects as {own_identity} or leave it out"
                    )
                source = identities.get(creator, source)
            if ctx.tlp_override is not None:
                level = ctx.tlp_override
            prepared.append((checked, level if level is not None else default_tlp, source))
        except Refused as exc:
            outcome.failures.append(
                {"id": str(ident)[:200], "version": str(version or "")[:40], "message": str(exc)}
            )
    return prepared


def store(objects: Sequence[Any], ctx: Context) -> Outcome:
    """Validate and store; duplicates (same id and version) count as successes."""
    now = timezone.now()
    outcome = Outcome()
    _ADAPTED.clear()
    _OPS[:] = [connection.ops]
    # A bundle is hundreds of thousands of small containers that all stay alive until the
    # end of the call: the cyclic collector would walk them again and again for nothing
    # (about a tenth of the ingest time). Cycles made meanwhile (stix2.parse objects on the
    # library path) are collected after the call.
    with collector_paused():
        prepared = _prepare(objects, ctx, now, outcome)
        for start in range(0, len(prepared), BATCH):
            _write(prepared[start : start + BATCH], ctx, now, outcome)
        # Freed while the collector is paused, so that it does not first walk them all
        # (about 85 ms for 100 k objects) only to find them gone.
        del prepared
    return outcome


_ADAPTED: dict[datetime, Any] = {}


def _adapt(value: datetime | None) -> Any:
    """The database's form of a datetime; cached per store() call, because shared objects
    repeat the same few timestamps and Django's adapter is slow per call."""
    if value is None:
        return None
    found = _ADAPTED.get(value)
    if found is None:
        found = _ADAPTED[value] = _OPS[0].adapt_datetimefield_value(value)
    return found


_OPS: list[Any] = []


def _allocate_ids(table: str, count: int) -> list[int]:
    """Primary keys for rows about to be inserted, so that rows can be written with
    executemany (one prepared statement) and still be referred to. SQLite: the store runs
    in an IMMEDIATE transaction, which holds the write lock; PostgreSQL: the sequence."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        top = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(top, row[0] if row else 0) + 1
        return list(range(start, start + count))


def _sqlite_sequence(table: str, last: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE sqlite_sequence SET seq = %s WHERE name = %s AND seq < %s",
                [last, table, last],
            )


def _select_in(sql: str, fixed: list[Any], keys: list[Any]) -> list[tuple[Any, ...]]:
    """Run `sql` (with `IN ({in})`) for the keys in chunks; one array parameter on
    PostgreSQL, where long IN lists cost more to send than to run."""
    found: list[tuple[Any, ...]] = []
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        step = 50_000 if postgres else BATCH
        for start in range(0, len(keys), step):
            chunk = keys[start : start + step]
            if postgres:
                cursor.execute(sql.replace("IN ({in})", "= ANY(%s)"), [*fixed, chunk])
            else:
                cursor.execute(sql.replace("{in}", ",".join(["%s"] * len(chunk))), [*fixed, *chunk])
            found.extend(cursor.fetchall())
    return found


def _write(
    batch: list[tuple[Checked, TLP, int | None]], ctx: Context, now: datetime, outcome: Outcome
) -> None:
    coll = ctx.collection
    table = StixObject._meta.db_table
    ids = list({c.stix_id for c, _l, _s in batch})
    existing: dict[str, list[tuple[Any, int, bool]]] = {}
    if connection.vendor == "postgresql":
        # One index probe per id (OFFSET 0 keeps the subquery a nested loop): during a
        # large store the statistics still describe the collection before it, and the
        # planner would otherwise scan the whole collection for every batch.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT o.stix_id, o.version, o.id, o.is_latest FROM unnest(%s::varchar[]) "  # noqa: S608
                f"AS k(s), LATERAL (SELECT stix_id, version, id, is_latest FROM {table} "
                "WHERE collection_id = %s AND stix_id = k.s OFFSET 0) o",
                [ids, coll.pk],
            )
            stored_versions = cursor.fetchall()
    else:
        stored_versions = _select_in(
            f"SELECT stix_id, version, id, is_latest FROM {table} "  # noqa: S608
            "WHERE collection_id = %s AND stix_id IN ({in})",
            [coll.pk],
            ids,
        )
    for stix_id, version, pk, latest in stored_versions:
        if version.tzinfo is None:  # SQLite returns naive UTC
            version = version.replace(tzinfo=UTC)
        existing.setdefault(stix_id, []).append((version, pk, bool(latest)))
    fresh: list[tuple[Checked, TLP, int | None]] = []
    seen: set[tuple[str, Any]] = set()
    for item in batch:
        checked = item[0]
        checked.version = checked.version or now
        version = checked.version
        key = (checked.stix_id, version)
        outcome.successes.append({"id": checked.stix_id, "version": _version_text(checked.version)})
        if key in seen or any(v == version for v, _p, _l in existing.get(checked.stix_id, [])):
            outcome.duplicates += 1
            continue
        seen.add(key)
        fresh.append(item)
    if not fresh:
        return
    # The newest version of each id in this batch, compared with what is stored.
    newest: dict[str, Any] = {}
    for checked, _l, _s in fresh:
        version = checked.version
        if checked.stix_id not in newest or version > newest[checked.stix_id]:
            newest[checked.stix_id] = version
    superseded: list[int] = []
    latest_ids: set[str] = set()
    for stix_id, version in newest.items():
        stored = existing.get(stix_id, [])
        stored_max = max((v for v, _p, _l in stored), default=None)
        if stored_max is None or version > stored_max:
            latest_ids.add(stix_id)
            superseded.extend(p for _v, p, latest in stored if latest)
    if superseded:
        StixObject.objects.filter(pk__in=superseded).update(is_latest=False)

    cols = [
        "id", "collection_id", "stix_id", "type", "spec_version", "created", "modified",
        "version", "date_added", "is_latest", "tlp", "source_org_id", "audience_org_id",
        "sharing_group_id", "submitted_by_id", "status", "category_id", "raw", "submission_id",
    ]  # fmt: skip
    pks = _allocate_ids(table, len(fresh))
    added = _adapt(now)
    group = ctx.sharing_group_id or coll.sharing_group_id
    rows = []
    placed: list[tuple[int, Checked, TLP, int | None]] = []
    for pk, (checked, level, source) in zip(pks, fresh, strict=True):
        is_latest = checked.stix_id in latest_ids and checked.version == newest[checked.stix_id]
        version = _adapt(checked.version)
        rows.append(
            (
                pk, coll.pk, checked.stix_id, checked.type, checked.spec_version,
                _adapt(checked.created), _adapt(checked.modified), version, added, is_latest,
                int(level), source, coll.organisation_id, group, ctx.user_id, ctx.status,
                ctx.category_id, checked.raw, ctx.submission_id,
            )
        )  # fmt: skip
        placed.append((pk, checked, level, source))
    insert_rows(table, cols, rows)
    _sqlite_sequence(table, pks[-1])
    outcome.stored += len(placed)
    if ctx.red_recipient_ids:
        through = StixObject.red_recipients.through
        through.objects.bulk_create(
            [
                through(stixobject_id=pk, user_id=uid)
                for pk, _c, level, _s in placed
                if level == TLP.RED
                for uid in ctx.red_recipient_ids
            ]
        )
    _write_values(placed)
    _write_indicators(placed)


def _write_values(placed: list[tuple[int, Checked, TLP, int | None]]) -> None:
    wanted = {(o.kind, o.value) for _pk, c, _l, _s in placed for o in c.observables}
    if not wanted:
        return
    value_ids = ensure_values(wanted)
    prov_cols = [
        "value_id", "stix_object_id", "organisation_id", "confidence", "first_seen",
        "last_seen", "valid_until", "tlp",
    ]  # fmt: skip
    prov_rows = []
    for pk, checked, level, source in placed:
        for o in checked.observables:
            prov_rows.append(
                (
                    value_ids[(o.kind, o.value)], pk, source, checked.confidence,
                    _adapt(checked.first_seen), _adapt(checked.last_seen),
                    _adapt(checked.valid_until), int(level),
                )
            )  # fmt: skip
    insert_rows(Provenance._meta.db_table, prov_cols, prov_rows)


def ensure_values(wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of the given (kind, normalised value) pairs, inserting those not yet stored."""
    if not _OPS:
        _OPS[:] = [connection.ops]
    table = Value._meta.db_table
    by_kind: dict[str, list[str]] = {}
    for kind, value in set(wanted):
        by_kind.setdefault(kind, []).append(value)
    found: dict[tuple[str, str], int] = {}

    def lookup(kind: str, values: list[str]) -> None:
        for pk, text in _select_in(
            f"SELECT id, value FROM {table} WHERE kind = %s AND value IN ({{in}})",  # noqa: S608
            [kind],
            values,
        ):
            found[(kind, text)] = pk

    if connection.vendor == "postgresql":
        return _ensure_values_postgres(table, by_kind, found, lookup)
    for kind, values in by_kind.items():
        lookup(kind, values)
    missing = [(k, v) for k, values in by_kind.items() for v in values if (k, v) not in found]
    if not missing:
        return found
    if connection.vendor == "sqlite":
        # The IMMEDIATE transaction holds the write lock: nobody else inserts meanwhile.
        pks = _allocate_ids(table, len(missing))
        insert_rows(
            table,
            ["id", "kind", "value", "net_key", "sighting_count", "false_positive_count"],
            [
                (pk, k, v, netkeys.net_key(k, v), 0, 0)
                for pk, (k, v) in zip(pks, missing, strict=True)
            ],
        )
        _sqlite_sequence(table, pks[-1])
        found.update({kv: pk for pk, kv in zip(pks, missing, strict=True)})
        return found
    return found


def _ensure_values_postgres(
    table: str,
    by_kind: dict[str, list[str]],
    found: dict[tuple[str, str], int],
    lookup: Callable[[str, list[str]], None],
) -> dict[tuple[str, str], int]:
    """One statement: the stored ids (an index probe each, whatever the statistics say),
    and the new values inserted (only those not found, so existing values do not use up
    sequence numbers). Another transaction may insert
    the same value at the same moment: ON CONFLICT skips it, and it is looked up after."""
    pairs = [(k, v) for k, values in by_kind.items() for v in values]
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH t AS (SELECT t.k, t.v, t.n, x.id FROM "  # noqa: S608
            "unnest(%s::varchar[], %s::varchar[], %s::varchar[]) AS t(k, v, n) "
            f"LEFT JOIN LATERAL (SELECT id FROM {table} WHERE kind = t.k AND value = t.v "
            "OFFSET 0) x ON true), "
            f"new AS (INSERT INTO {table} (kind, value, net_key, sighting_count, "
            "false_positive_count) SELECT k, v, n, 0, 0 FROM t WHERE id IS NULL "
            "ON CONFLICT (kind, value) DO NOTHING RETURNING id, kind, value) "
            "SELECT id, k, v FROM t WHERE id IS NOT NULL "
            "UNION ALL SELECT id, kind, value FROM new",
            [
                [k for k, _v in pairs],
                [v for _k, v in pairs],
                [netkeys.net_key(k, v) for k, v in pairs],
            ],
        )
        for pk, kind, text in cursor.fetchall():
            found[(kind, text)] = pk
    for kind, values in by_kind.items():
        lookup(kind, [v for v in values if (kind, v) not in found])
    return found


def _write_indicators(placed: list[tuple[int, Checked, TLP, int | None]]) -> None:
    cols = [
        "stix_object_id", "name", "pattern", "pattern_type", "valid_from", "valid_until",
        "confidence", "kind",
    ]  # fmt: skip
    rows = []
    for pk, checked, _l, _s in placed:
        ind = checked.indicator
        if ind is None:
            continue
        kind = checked.observables[0].kind if checked.observables else ""
        rows.append(
            (
                pk, ind["name"], ind["pattern"], ind["pattern_type"], _adapt(ind["valid_from"]),
                _adapt(ind["valid_until"]), ind["confidence"], kind,
            )
        )  # fmt: skip
    insert_rows(Indicator._meta.db_table, cols, rows)


__all__ = ["Context", "Outcome", "Refused", "ensure_values", "organisation_identity", "store"]
