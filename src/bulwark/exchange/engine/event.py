"""Events in IntelMQ field names: validation, canonical form, stable ids.

An event is a flat dict whose keys are IntelMQ harmonisation names (`source.ip`,
`classification.type`, `extra.tag`, ...). `normalise` turns what a parser read into the
canonical event or raises `Invalid` with a reason a person can act on.
"""

import hashlib
import ipaddress
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from bulwark.exchange.engine.fields import EVENT_FIELDS
from bulwark.incidents.rsit import RSIT

Event = dict[str, Any]

# rsit type -> rsit class (taxonomy); every type name is unique across classes.
TAXONOMY_OF_TYPE: dict[str, str] = {t: c for c, types in RSIT.items() for t in types}
# IntelMQ names a few types differently from RSIT; accept both.
TYPE_ALIASES = {
    "infected system": "infected-system",
    "infected_system": "infected-system",
    "c2server": "c2-server",
    "malware": "malware-distribution",
    "compromised": "system-compromise",
    "vulnerable service": "vulnerable-system",
    "vulnerable-service": "vulnerable-system",
    "bruteforce": "brute-force",
    "unknown": "undetermined",
    "blacklist": "other",
    "blocklist": "other",
    "proxy": "potentially-unwanted-accessible",
    "tor": "other",
    "backdoor": "system-compromise",
    "defacement": "application-compromise",
    "leak": "data-leak",
    "dga-domain": "infected-system",
    "amplifier": "ddos-amplifier",
}

KNOWN_FIELDS = frozenset(
    {
        "source.ip", "source.port", "source.asn", "source.fqdn", "source.url",
        "source.reverse_dns", "source.geolocation.cc", "source.geolocation.city",
        "source.geolocation.region", "source.network", "source.as_name",
        "destination.ip", "destination.port", "destination.asn", "destination.fqdn",
        "destination.url", "destination.geolocation.cc",
        "classification.taxonomy", "classification.type", "classification.identifier",
        "feed.name", "feed.provider", "feed.accuracy", "feed.code", "feed.url",
        "time.source", "time.observation", "malware.name", "malware.version",
        "protocol.application", "protocol.transport", "event_description.text",
        "comment", "status", "product.product", "product.vendor", "product.version",
    }
) | EVENT_FIELDS  # fmt: skip
IP_FIELDS = ("source.ip", "destination.ip")
PORT_FIELDS = ("source.port", "destination.port")
ASN_FIELDS = ("source.asn", "destination.asn")
FQDN_FIELDS = ("source.fqdn", "destination.fqdn", "source.reverse_dns")
URL_FIELDS = ("source.url", "destination.url")
TIME_FIELDS = ("time.source", "time.observation")
NETWORK_FIELDS = ("source.network", "destination.network")
# What makes two events "the same" for deduplication: time, feed and extras excluded.
IDENTITY_FIELDS = (
    "classification.type", "classification.identifier", "source.ip", "source.port",
    "source.fqdn", "source.url", "destination.ip", "destination.port", "destination.fqdn",
    "malware.name", "protocol.transport", "protocol.application",
)  # fmt: skip
_ADDRESS_KEYS = (  # most often present first: the check stops at the first it finds
    "source.ip", "source.fqdn", "source.url", "source.asn", "destination.ip",
    "destination.fqdn", "destination.url", "source.network", "destination.network",
)  # fmt: skip
MAX_VALUE = 4096
_LABEL = re.compile(r"\A(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")
_URL = re.compile(r"\A([a-z][a-z0-9+.-]*)://(?:[^@/?#]*@)?(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?")


class Invalid(ValueError):
    """The record cannot become an event; the message says which field and why."""


def canonical_ip(text: str) -> tuple[str, int]:
    """(canonical text, 4 or 6), rejecting anything that is not one plain address."""
    try:
        socket.inet_pton(socket.AF_INET, text)
        return text, 4
    except OSError:
        pass
    value = text.strip()
    try:
        socket.inet_pton(socket.AF_INET, value)
        return value, 4
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, value.removeprefix("[").removesuffix("]"))
    except OSError:
        raise Invalid(f"{value[:80]!r} is not an IPv4 or IPv6 address") from None
    return socket.inet_ntop(socket.AF_INET6, packed), 6


def canonical_fqdn(text: str) -> str:
    value = text.strip().rstrip(".").lower()
    if not value.isascii():
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            raise Invalid(f"{text[:80]!r} is not a valid domain name") from None
    if len(value) > 253 or not all(_LABEL.match(label) for label in value.split(".")):
        raise Invalid(f"{text[:80]!r} is not a valid domain name")
    return value


_TIME_CACHE: dict[Any, str] = {}


def canonical_time(value: Any) -> str:
    """ISO 8601 in UTC, seconds precision; naive times are taken as UTC (feeds say so).
    Reports repeat the same times a great deal, so answers are cached (bounded)."""
    found = _TIME_CACHE.get(value)
    if found is not None:
        return found
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace(" UTC", "").replace(" +0000", "+00:00"))
        except ValueError:
            raise Invalid(f"{text[:40]!r} is not an ISO 8601 time") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    result = moment.replace(microsecond=0).isoformat()
    if len(_TIME_CACHE) >= 65536:
        _TIME_CACHE.clear()
    _TIME_CACHE[value] = result
    return result


def _int_in(value: Any, low: int, high: int, name: str) -> int:
    if type(value) is int:
        number = value
    else:
        text = str(value).strip()
        if name.endswith("asn") and text[:2] in ("AS", "as", "As"):
            text = text[2:]
        if not text.isdigit():
            raise Invalid(f"{name} {str(value)[:40]!r} is not a number from {low} to {high}")
        number = int(text)
    if not low <= number <= high:
        raise Invalid(f"{name} {str(value)[:40]!r} is not a number from {low} to {high}")
    return number


def normalise(fields: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> Event:
    """The canonical event for what a parser read (over `base`, e.g. time.observation).
    Empty values are dropped, unknown keys move under `extra.`, classification is
    completed from the RSIT type."""
    event: Event = dict(base) if base else {}
    known = KNOWN_FIELDS
    for key, value in fields.items():
        if type(value) is str:
            if not value:
                continue
            if len(value) > MAX_VALUE:
                raise Invalid(f"{key} is {len(value):,} characters long (limit {MAX_VALUE:,})")
            if "\x00" in value:
                raise Invalid(f"{key} contains a NUL character")
        elif value is None:
            continue
        elif not isinstance(value, int | float | bool):
            text = orjson.dumps(value).decode()
            if len(text) > MAX_VALUE:
                raise Invalid(f"{key} is {len(text):,} characters long (limit {MAX_VALUE:,})")
            if key in known:  # a harmonised field holds one value: its JSON text
                value = text  # (extras keep their JSON lists and objects)
        if key in known or key[:6] == "extra.":
            event[key] = value
        else:
            event["extra." + key.replace(" ", "_").lower()] = value
    for key in IP_FIELDS:
        if key in event:
            value = event[key]
            event[key] = canonical_ip(value if type(value) is str else str(value))[0]
    for key in PORT_FIELDS:
        if key in event:
            event[key] = _int_in(event[key], 0, 65535, key)
    for key in ASN_FIELDS:
        if key in event:
            asn = _int_in(event[key], 0, 4294967295, key)
            if asn == 0:
                del event[key]  # feeds write 0 for "unknown"
            else:
                event[key] = asn
    for key in FQDN_FIELDS:
        if key in event:
            event[key] = canonical_fqdn(str(event[key]))
    for key in URL_FIELDS:
        if key in event:
            _url_host(event, key)
    for key in TIME_FIELDS:
        if key in event:
            event[key] = canonical_time(event[key])
    for key in NETWORK_FIELDS:
        if key in event:
            try:
                event[key] = str(ipaddress.ip_network(str(event[key]).strip(), strict=False))
            except ValueError:
                raise Invalid(f"{key} {str(event[key])[:80]!r} is not an IP network") from None
    if "source.geolocation.cc" in event:
        cc = str(event["source.geolocation.cc"]).strip().upper()
        if len(cc) == 2 and cc.isalpha():
            event["source.geolocation.cc"] = cc
        else:
            del event["source.geolocation.cc"]
    _classify(event)
    if not any([key in event for key in _ADDRESS_KEYS]):
        raise Invalid("no source or destination address, domain, URL or AS")
    return event


def _url_host(event: Event, key: str) -> None:
    url = str(event[key]).strip()
    match = _URL.match(url.lower() if url[:8].isascii() else url)
    if not match:
        raise Invalid(f"{key} {url[:80]!r} is not an absolute URL")
    event[key] = url
    side = key.split(".")[0]
    host = match.group(2).strip("[]")
    try:
        ip, _v = canonical_ip(host)
        event.setdefault(f"{side}.ip", ip)
    except Invalid:
        event.setdefault(f"{side}.fqdn", canonical_fqdn(host))


_CLASSES: dict[tuple[Any, Any], tuple[str, str, bool]] = {}


def _classify(event: Event) -> None:
    given_type = event.get("classification.type")
    given = event.get("classification.taxonomy")
    found = _CLASSES.get((given_type, given))
    if found is None:
        raw_type = str(given_type or "undetermined").strip().lower()
        rsit_type = TYPE_ALIASES.get(raw_type, raw_type)
        taxonomy = TAXONOMY_OF_TYPE.get(rsit_type)
        if taxonomy is None:
            raise Invalid(f"classification.type {raw_type[:40]!r} is not an RSIT type")
        differs = bool(given) and str(given).strip().lower() not in (taxonomy, "other")
        found = (rsit_type, taxonomy, differs)
        if len(_CLASSES) < 4096:
            _CLASSES[(given_type, given)] = found
    rsit_type, taxonomy, differs = found
    if differs:
        event["extra.original_taxonomy"] = given
    event["classification.type"] = rsit_type
    event["classification.taxonomy"] = taxonomy
    if "classification.identifier" not in event:
        event["classification.identifier"] = rsit_type


def _identity(event: Event) -> str:
    get = event.get
    identity = "\x1f".join([str(get(k, "")) for k in IDENTITY_FIELDS])
    network = get("source.network")
    if network is not None:  # a network event (blocklists); other events keep their ids
        identity += f"\x1f{network}"
    return identity


def event_id(event: Event, identity: str | None = None) -> str:
    """Stable id of what was observed: the identity fields, the time at the source and
    the feed. The same report line gives the same id on every run and machine; extras
    (a server's clock value, say) and the time we received it do not change it."""
    if identity is None:
        identity = _identity(event)
    text = f"{identity}\x1e{event.get('time.source', '')}\x1e{event.get('feed.name', '')}"
    return hashlib.blake2b(
        f"{text}\x1e{event.get('feed.provider', '')}".encode(), digest_size=16
    ).hexdigest()


_BUCKETS: dict[tuple[str, int], int] = {}


def _bucket(moment: str, window_seconds: int) -> int:
    key = (moment, window_seconds)
    found = _BUCKETS.get(key)
    if found is None:
        found = int(datetime.fromisoformat(moment).timestamp()) // window_seconds
        if len(_BUCKETS) >= 65536:
            _BUCKETS.clear()
        _BUCKETS[key] = found
    return found


def dedupe_key(event: Event, window_seconds: int, identity: str | None = None) -> str:
    """Equal for events with the same identity fields whose time falls in the same window
    (time.source, else time.observation); feed and extras do not count."""
    moment = event.get("time.source") or event.get("time.observation") or ""
    bucket = _bucket(moment, window_seconds) if moment else 0
    if identity is None:
        identity = _identity(event)
    return hashlib.blake2b(
        f"{identity}\x1e{window_seconds}\x1e{bucket}".encode(), digest_size=16
    ).hexdigest()


def keys(event: Event, window_seconds: int) -> tuple[str, str]:
    """(event id, dedupe key), sharing the work."""
    identity = _identity(event)
    return event_id(event, identity), dedupe_key(event, window_seconds, identity)
