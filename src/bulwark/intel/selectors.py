"""Reads of shared intelligence, always through `visible_to(user)`.

Correlation keeps no table of pairs: a value is stored once, so "what else carries this
value" is one indexed lookup of its provenance rows (plus, for addresses, the prefixes
that contain it, found by equality on at most 32 or 128 stored prefix texts), and one
indexed lookup of the incidents' indicators with the same normalised text.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from bulwark.core import observables as obs
from bulwark.core.permissions import Reader
from bulwark.core.tlp import TLP
from bulwark.incidents.models import Incident, IncidentIndicator
from bulwark.intel import decay, netkeys, warninglists
from bulwark.intel.models import Indicator, Provenance, Sighting, Status, StixObject, Value

INCIDENT_KINDS = frozenset({"ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "email"})


@dataclass
class Correlation:
    value: Value
    sources: list[Provenance] = field(default_factory=list)
    incidents: list[IncidentIndicator] = field(default_factory=list)
    broader: list[tuple[Value, int]] = field(default_factory=list)  # prefixes, source count
    narrower: list[tuple[Value, int]] = field(default_factory=list)  # addresses in a prefix
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sources) + len(self.incidents) + len(self.broader) + len(self.narrower)


def find_value(kind: str, text: str) -> Value | None:
    try:
        kind, text = obs.normalise(kind, text)
    except ValueError:
        return None
    return Value.objects.filter(kind=kind, value=text).first()


def visible_values(user: Reader) -> Any:
    """Values that some object the user may read carries."""
    return Value.objects.filter(pk__in=Provenance.objects.visible_to(user).values("value_id"))


def may_see_value(user: Reader, value: Value) -> bool:
    if Provenance.objects.visible_to(user).filter(value=value).exists():
        return True
    if Sighting.objects.visible_to(user).filter(value=value).exists():
        return True
    return value.kind in INCIDENT_KINDS and _incident_rows(user, value.kind, value.value).exists()


def _incident_rows(user: Reader, kind: str, text: str) -> Any:
    return IncidentIndicator.objects.filter(
        kind=kind, value=text, incident__in=Incident.objects.visible_to(user)
    ).select_related("incident")


def siblings(user: Reader, value: Value, limit: int = 200) -> list[Provenance]:
    """The current shared objects the user may read that carry this value: one indexed
    query (provenance by value, joined to its object for visibility)."""
    return list(
        Provenance.objects.visible_to(user)
        .filter(value=value, stix_object__is_latest=True)
        .select_related("stix_object", "organisation", "stix_object__collection")
        .order_by("-stix_object__date_added")[:limit]
    )


def correlate(user: Reader, value: Value, limit: int = 200) -> Correlation:
    """Everything the user may see that carries the same value (and related prefixes)."""
    result = Correlation(value=value)
    if value.kind in INCIDENT_KINDS:
        result.incidents = list(_incident_rows(user, value.kind, value.value)[:limit])
    if value.pk is None:  # not stored: only incidents carry it
        return result
    result.sources = siblings(user, value, limit)
    visible_prov = Provenance.objects.visible_to(user).filter(stix_object__is_latest=True)
    related: Any = None
    if value.kind in ("ipv4", "ipv6", "cidr"):
        prefixes = netkeys.containing_prefixes(value.kind, value.value)
        related = Q(value__kind="cidr", value__value__in=prefixes)
    if value.kind == "cidr":
        first, last = netkeys.net_range(value.value)
        related = (related or Q()) | Q(
            value__kind__in=["ipv4", "ipv6"], value__net_key__gte=first, value__net_key__lte=last
        )
    if related is not None:
        counts = (
            visible_prov.filter(related)
            .values("value_id")
            .annotate(n=Count("pk"))
            .order_by("value_id")[:limit]
        )
        found = {row["value_id"]: row["n"] for row in counts}
        for other in Value.objects.filter(pk__in=list(found)).order_by("kind", "value"):
            target = result.broader if other.kind == "cidr" and value.kind != "cidr" else None
            if value.kind == "cidr":
                target = result.narrower if other.kind != "cidr" else result.broader
            assert target is not None
            target.append((other, found[other.pk]))
    result.sightings = list(Sighting.objects.visible_to(user).filter(value=value)[:limit])
    return result


@dataclass
class ValueLinks:
    """What else carries one of an incident's values, as far as the viewer may see."""

    kind: str
    value: str
    shared: int = 0  # current shared objects carrying it
    sightings: int = 0
    incidents: list[Incident] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.shared + self.sightings + len(self.incidents)


MAX_INCIDENT_VALUES = 500
MAX_OTHER_INCIDENTS = 2000


def incident_correlations(user: Reader, incident: Incident, limit: int = 50) -> list[ValueLinks]:
    """For an incident page: each of its values that something else the user may read
    also carries (shared objects, sightings, other incidents). A constant number of
    queries however many values the incident has: values by equality, then one grouped
    count each for shared objects and sightings, and one query for the other incidents."""
    pairs = list(
        incident.indicators.order_by("kind", "value").values_list("kind", "value")[
            :MAX_INCIDENT_VALUES
        ]
    )
    if not pairs:
        return []
    links = {pair: ValueLinks(*pair) for pair in pairs}
    same = Q()
    for kind, text in pairs:
        same |= Q(kind=kind, value=text)
    stored = {(v.kind, v.value): v.pk for v in Value.objects.filter(same).only("kind", "value")}
    by_id = {pk: links[pair] for pair, pk in stored.items()}
    if by_id:
        shared = (
            Provenance.objects.visible_to(user)
            .filter(value_id__in=list(by_id), stix_object__is_latest=True)
            .values("value_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in shared:
            by_id[row["value_id"]].shared = row["n"]
        seen = (
            Sighting.objects.visible_to(user)
            .filter(value_id__in=list(by_id))
            .values("value_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in seen:
            by_id[row["value_id"]].sightings = row["n"]
    others = (
        IncidentIndicator.objects.filter(same, incident__in=Incident.objects.visible_to(user))
        .exclude(incident_id=incident.pk)
        .select_related("incident")
        .order_by("kind", "value", "-incident__reported_at")[:MAX_OTHER_INCIDENTS]
    )
    for hit in others:
        found = links[(hit.kind, hit.value)].incidents
        if len(found) < limit:
            found.append(hit.incident)
    return [link for link in links.values() if link.count]


def indicator_scores(indicators: list[Indicator], now: Any = None) -> dict[int, decay.Score]:
    """Scores of many indicators with one query (their values' sightings)."""
    now = now or timezone.now()
    sighted: dict[int, tuple[Any, int]] = {}
    rows = Provenance.objects.filter(
        stix_object_id__in=[i.stix_object_id for i in indicators]
    ).values_list(
        "stix_object_id", "value_id", "value__last_sighted_at", "value__false_positive_count"
    )
    counted: set[tuple[int, int]] = set()
    for object_id, value_id, last, fps in rows:
        if (object_id, value_id) in counted:
            continue
        counted.add((object_id, value_id))
        before, total = sighted.get(object_id, (None, 0))
        if last is not None and (before is None or last > before):
            before = last
        sighted[object_id] = (before, total + fps)
    scores = {}
    for indicator in indicators:
        last, fps = sighted.get(indicator.stix_object_id, (None, 0))
        scores[indicator.pk] = decay.score(
            kind=indicator.kind,
            confidence=indicator.confidence,
            valid_from=indicator.valid_from,
            valid_until=indicator.valid_until,
            last_sighted_at=last,
            false_positives=fps,
            now=now,
        )
    return scores


def indicator_score(indicator: Indicator, now: Any = None) -> decay.Score:
    values = list(
        Value.objects.filter(provenance__stix_object_id=indicator.stix_object_id).distinct()
    )
    last = max((v.last_sighted_at for v in values if v.last_sighted_at), default=None)
    fps = sum(v.false_positive_count for v in values)
    return decay.score(
        kind=indicator.kind,
        confidence=indicator.confidence,
        valid_from=indicator.valid_from,
        valid_until=indicator.valid_until,
        last_sighted_at=last,
        false_positives=fps,
        now=now or timezone.now(),
    )


def detection_rows(
    user: Reader, *, include_decayed: bool = False, now: Any = None
) -> list[tuple[str, str, str, float]]:
    """(kind, value, indicator STIX id, score) of the current published indicators that
    `user` may read (anonymous: public TLP:CLEAR ones)."""
    rows = Provenance.objects.visible_to(user).filter(
        stix_object__is_latest=True,
        stix_object__type="indicator",
        stix_object__status=Status.PUBLISHED,
        stix_object__indicator__detect=True,
    )
    return _scored(rows, include_decayed, now or timezone.now())


def detection_values(include_decayed: bool = False) -> list[tuple[str, str, str, float]]:
    """For the CERT's monitoring engine: (kind, normalised value, indicator STIX id, score)
    of every current, published indicator value except TLP:RED ones (RED goes to named
    people, never into a machine); decayed ones only when asked."""
    rows = (
        Provenance.objects.filter(
            stix_object__is_latest=True,
            stix_object__type="indicator",
            stix_object__status=Status.PUBLISHED,
            stix_object__indicator__detect=True,
        )
        .exclude(stix_object__tlp=TLP.RED)
        .exclude(tlp=TLP.RED)
    )
    return _scored(rows, include_decayed, timezone.now())


def _scored(rows: Any, include_decayed: bool, now: Any) -> list[tuple[str, str, str, float]]:
    """The one place detection exports select values: indicators not meant for detection
    (`detect` false) are filtered by the callers' query, warning-listed values here."""

    listed = warninglists.matcher().listed
    out: list[tuple[str, str, str, float]] = []
    for kind, text, stix_id, conf, valid_from, valid_until, sighted, fps in (
        rows.values_list(
            "value__kind",
            "value__value",
            "stix_object__stix_id",
            "stix_object__indicator__confidence",
            "stix_object__indicator__valid_from",
            "stix_object__indicator__valid_until",
            "value__last_sighted_at",
            "value__false_positive_count",
        )
        .order_by("value__kind", "value__value", "stix_object__stix_id")
        .iterator(chunk_size=5000)
    ):
        s = decay.score(
            kind=kind,
            confidence=conf,
            valid_from=valid_from,
            valid_until=valid_until,
            last_sighted_at=sighted,
            false_positives=fps,
            now=now,
        )
        if (s.decayed and not include_decayed) or listed(kind, text):
            continue
        out.append((kind, text, stix_id, s.value))
    return out


def pending_review(user: Reader) -> Any:
    return (
        StixObject.objects.visible_to(user)
        .filter(status=Status.PENDING)
        .select_related("source_org", "collection")
        .order_by("date_added", "pk")
    )


__all__ = ["Q", "correlate", "detection_rows", "detection_values", "find_value"]
