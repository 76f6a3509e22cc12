"""The bulk write path: checked STIX objects -> objects, values, provenance, indicators.

Called by `services.ingest_objects` inside its transaction. Rows are written with one
multi-row statement per table and batch (plain SQL through Django's connection, portable
between SQLite and PostgreSQL), because the ORM's per-object overhead would cap ingest
far below the 20 k objects/s target.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from bulwark.constituency.models import Organisation
from bulwark.core.tlp import TLP
from bulwark.intel import observables as obs
from bulwark.intel.models import (
    Collection,
    Indicator,
    MarkingAlias,
    Provenance,
    StixObject,
    Value,
)
from bulwark.intel.stixcheck import Checked, Refused, check, tlp_of

BATCH = 500
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


@dataclass
class Outcome:
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0


def _version_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else ""


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
            prepared.append(
                (checked, level if level is not None else TLP(ctx.collection.default_tlp), source)
            )
        except Refused as exc:
            outcome.failures.append(
                {"id": str(ident)[:200], "version": str(version or "")[:40], "message": str(exc)}
            )
    return prepared


def store(objects: Sequence[Any], ctx: Context) -> Outcome:
    """Validate and store; duplicates (same id and version) count as successes."""
    now = timezone.now()
    outcome = Outcome()
    prepared = _prepare(objects, ctx, now, outcome)
    for start in range(0, len(prepared), BATCH):
        _write(prepared[start : start + BATCH], ctx, now, outcome)
    return outcome


def _adapt(value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value) if value is not None else None


def _write(
    batch: list[tuple[Checked, TLP, int | None]], ctx: Context, now: datetime, outcome: Outcome
) -> None:
    coll = ctx.collection
    ids = list({c.stix_id for c, _l, _s in batch})
    existing: dict[str, list[tuple[datetime, int, bool]]] = {}
    for stix_id, version, pk, latest in StixObject.objects.filter(
        collection=coll, stix_id__in=ids
    ).values_list("stix_id", "version", "pk", "is_latest"):
        existing.setdefault(stix_id, []).append((version, pk, latest))
    fresh: list[tuple[Checked, TLP, int | None]] = []
    seen: set[tuple[str, datetime]] = set()
    for item in batch:
        checked = item[0]
        checked.version = checked.version or now
        key = (checked.stix_id, checked.version)
        outcome.successes.append({"id": checked.stix_id, "version": _version_text(checked.version)})
        if key in seen or any(
            v == checked.version for v, _p, _l in existing.get(checked.stix_id, [])
        ):
            outcome.duplicates += 1
            continue
        seen.add(key)
        fresh.append(item)
    if not fresh:
        return
    # The newest version of each id in this batch, compared with what is stored.
    newest: dict[str, datetime] = {}
    for checked, _l, _s in fresh:
        assert checked.version is not None
        if checked.stix_id not in newest or checked.version > newest[checked.stix_id]:
            newest[checked.stix_id] = checked.version
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

    table = StixObject._meta.db_table
    cols = [
        "collection_id", "stix_id", "type", "spec_version", "created", "modified", "version",
        "date_added", "is_latest", "tlp", "source_org_id", "audience_org_id", "sharing_group_id",
        "submitted_by_id", "status", "category_id", "raw",
    ]  # fmt: skip
    rows: list[Any] = []
    for checked, level, source in fresh:
        is_latest = checked.stix_id in latest_ids and checked.version == newest[checked.stix_id]
        rows.extend(
            [
                coll.pk, checked.stix_id, checked.type, checked.spec_version,
                _adapt(checked.created), _adapt(checked.modified), _adapt(checked.version),
                _adapt(now), is_latest, int(level), source, coll.organisation_id,
                ctx.sharing_group_id or coll.sharing_group_id, ctx.user_id, ctx.status,
                ctx.category_id, checked.raw,
            ]
        )  # fmt: skip
    placeholders = ",".join(["(" + ",".join(["%s"] * len(cols)) + ")"] * len(fresh))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({','.join(cols)}) VALUES {placeholders} RETURNING id, stix_id",  # noqa: S608 (names from model meta; values bound)
            rows,
        )
        returned = cursor.fetchall()
    # (stix_id -> pks); several versions of one id in a batch are matched in insert order.
    pks_by_id: dict[str, list[int]] = {}
    for pk, stix_id in sorted(returned):
        pks_by_id.setdefault(stix_id, []).append(pk)
    placed: list[tuple[int, Checked, TLP, int | None]] = []
    for checked, level, source in fresh:
        placed.append((pks_by_id[checked.stix_id].pop(0), checked, level, source))
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
    _insert_many(Provenance._meta.db_table, prov_cols, prov_rows)


def ensure_values(wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of the given (kind, normalised value) pairs, inserting those not yet stored."""
    wanted = list(wanted)
    table = Value._meta.db_table
    rows = [(kind, value, obs.net_key(kind, value), 0, 0) for kind, value in wanted]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            placeholders = ",".join(["(%s,%s,%s,%s,%s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (kind, value, net_key, sighting_count, "  # noqa: S608
                f"false_positive_count) VALUES {placeholders} ON CONFLICT (kind, value) DO NOTHING",
                [x for row in chunk for x in row],
            )
    found: dict[tuple[str, str], int] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, value in wanted:
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        for start in range(0, len(values), BATCH):
            for pk, value in Value.objects.filter(
                kind=kind, value__in=values[start : start + BATCH]
            ).values_list("pk", "value"):
                found[(kind, value)] = pk
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
    _insert_many(Indicator._meta.db_table, cols, rows)


def _insert_many(table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            row_ph = "(" + ",".join(["%s"] * len(cols)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({','.join(cols)}) VALUES {','.join([row_ph] * len(chunk))}",  # noqa: S608
                [x for row in chunk for x in row],
            )


__all__ = ["Context", "Outcome", "Refused", "ensure_values", "organisation_identity", "store"]
