"""A notification's batch as STIX 2.1, POSTed to a foreign CERT's TAXII 2.1 collection
(taxii2-client) instead of e-mailed.

The bundle: this CERT's identity, the TLP marking of the batch, one `observed-data` per
event with its address / domain / URL objects and a `network-traffic` object (addresses,
ports, protocols), the event's classification in Bulwark's event property extension
(the definition is published, not sent: see build_bundle), `malware` objects with a `sighting` per
event that names one, and a `report` named with the ticket and classification whose
description is the e-mail's summary; every object we author carries the ticket as an
external reference. Ids and times are derived from the ticket, the events and
`EventNotice.stix_modified`, so a repeated POST is the very same object versions.
The exchange's own STIX reader (engine/formats/stix.py) turns such a bundle back into the
same event fields.

Idempotent delivery: the server's status id is recorded (committed) right after the POST;
a later attempt polls that status instead of posting again. Identity, marking and the
address objects are shared between batches, so a server refusing them as "already
present" is not a failure; only the batch's own objects (report, observed-data) count.
"""

import functools
import ipaddress
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import stix2  # type: ignore[import-untyped]
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from taxii2client.exceptions import TAXIIServiceException  # type: ignore[import-untyped]
from taxii2client.v21 import Collection, Status  # type: ignore[import-untyped]

from bulwark.constituency.models import Organisation, OrganisationKind
from bulwark.core import stixtime
from bulwark.core.tlp import STIX_MARKING_IDS, TLP, TLP2_EXTENSION_ID
from bulwark.exchange import sealing
from bulwark.exchange.engine.formats.stix import EVENT_EXTENSION, EVENT_PROPERTIES
from bulwark.exchange.models import Event, EventNotice, RecipientSettings
from bulwark.incidents.interchange import PROJECT_IDENTITY

# A batch names the recipient's own networks: for the recipient and those it must tell.
BATCH_TLP = TLP.AMBER
REQUEST_SECONDS = 30
POLL_SECONDS = 30
# Fixed forever: changing it would re-key every object already delivered.
ID_NAMESPACE = uuid.UUID("2f3e1b8c-55a0-4c1e-9a86-1d0c6b2f7e41")
_TLP2_CREATED = datetime(2022, 10, 1, tzinfo=UTC)
# Collection and status ids go into URL paths: one path segment, no dot-segments.
COLLECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def endpoint_problems(api_root: str, collection: str) -> dict[str, str]:
    """What is wrong with a TAXII endpoint as typed by an analyst (empty: nothing)."""
    problems: dict[str, str] = {}
    try:
        parts = urlsplit(api_root)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host:
        problems["taxii_api_root"] = _("Give the API root as an https:// URL.")
    elif parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        problems["taxii_api_root"] = _("A TAXII server must be reached over https.")
    elif parts.username or parts.password or parts.query or parts.fragment:
        problems["taxii_api_root"] = _(
            "The API root must not carry a user, password, query or fragment."
        )
    elif len(api_root) > 140 or any(c.isspace() or ord(c) < 32 for c in api_root):
        problems["taxii_api_root"] = _("The API root is too long or holds spaces.")
    if not COLLECTION_ID.fullmatch(collection):
        problems["taxii_collection"] = _(
            "A collection id is 1-100 letters, digits, dots, dashes or underscores."
        )
    return problems


# --- the bundle -------------------------------------------------------------------------


def _id(kind: str, *parts: object) -> str:
    deployment = uuid.uuid5(ID_NAMESPACE, str(settings.CERT_NAME))
    return f"{kind}--{uuid.uuid5(deployment, '/'.join(str(p) for p in parts))}"


def _identity() -> Any:
    """The CERT itself: the national CERT organisation if there is one (the same identity
    id the intelligence app uses for it), else one derived from CERT_NAME."""
    cert = Organisation.objects.filter(kind=OrganisationKind.NATIONAL_CERT).order_by("pk").first()
    if cert is not None:
        from bulwark.intel.ingest import organisation_identity

        return stix2.Identity(
            id=organisation_identity(cert.pk),
            name=cert.name,
            identity_class="organization",
            created=cert.created_at,
            modified=cert.created_at,
        )
    return stix2.Identity(
        id=_id("identity", "cert"),
        name=str(settings.CERT_NAME),
        identity_class="organization",
        created=_TLP2_CREATED,
        modified=_TLP2_CREATED,
    )


def _marking(level: TLP) -> Any:
    """TLP 2.0 marking definition as the CTI TC publishes it (stix2 ships only TLP 1.0)."""
    return stix2.MarkingDefinition(
        id=STIX_MARKING_IDS[level],
        created=_TLP2_CREATED,
        name=level.label,
        extensions={
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": level.label.removeprefix("TLP:").lower(),
            }
        },
    )


_DEFINITIONS_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
_EVENT_SCHEMA = (
    "Property extension for observed-data, defined by Bulwark: the reported event's "
    "classification and origin, in IntelMQ's harmonisation names with '_' for '.'. "
    "Properties (all strings, optional): " + ", ".join(EVENT_PROPERTIES.values()) + "."
)
TRANSPORTS = frozenset({"tcp", "udp", "icmp", "icmpv6", "sctp"})


def event_extension() -> Any:
    """The definition of Bulwark's event property extension (published, not sent)."""
    return stix2.ExtensionDefinition(
        id=EVENT_EXTENSION,
        created_by_ref=PROJECT_IDENTITY,
        created=_DEFINITIONS_CREATED,
        modified=_DEFINITIONS_CREATED,
        name="Bulwark reported event",
        description="The classification and origin of an event a CERT reports.",
        schema=_EVENT_SCHEMA,
        version="1.0.0",
        extension_types=["property-extension"],
    )


def _address(ip: str) -> Any:
    kind = stix2.IPv6Address if ipaddress.ip_address(ip).version == 6 else stix2.IPv4Address
    return kind(value=ip)


def _port(value: Any) -> int | None:
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= 65535 else None


def _observables(fields: dict[str, Any]) -> list[Any]:
    """The event's cyber-observables: its subject (the source's address, domain and URL,
    else the destination's), and a network-traffic object whenever an address is known,
    which carries both addresses, the ports and the protocols."""
    found: list[Any] = []
    for side in ("source", "destination"):
        if fields.get(f"{side}.ip"):
            found.append(_address(fields[f"{side}.ip"]))
        if fields.get(f"{side}.fqdn"):
            found.append(stix2.DomainName(value=fields[f"{side}.fqdn"]))
        if fields.get(f"{side}.url"):
            found.append(stix2.URL(value=fields[f"{side}.url"]))
        if found:
            break  # the destination only when the event has no source
    source = _address(fields["source.ip"]) if fields.get("source.ip") else None
    target = _address(fields["destination.ip"]) if fields.get("destination.ip") else None
    if source is None and target is None:
        return found
    if target is not None and source is not None:
        found.append(target)
    subject: Any = source if source is not None else target
    protocols = [subject.type.removesuffix("-addr")]
    for name in ("protocol.transport", "protocol.application"):
        value = str(fields.get(name) or "").strip().lower()
        if value and value not in protocols:
            protocols.append(value)
    traffic: dict[str, Any] = {"protocols": protocols}
    if source is not None:
        traffic["src_ref"] = source.id
    if target is not None:
        traffic["dst_ref"] = target.id
    for side, key in (("source", "src_port"), ("destination", "dst_port")):
        port = _port(fields.get(f"{side}.port"))
        if port is not None:
            traffic[key] = port
    found.append(stix2.NetworkTraffic(**traffic))
    return found


def _event_properties(fields: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"extension_type": "property-extension"}
    for name, prop in EVENT_PROPERTIES.items():
        value = fields.get(name)
        if value not in (None, ""):
            found[prop] = str(value)
    return found


def build_bundle(notification: EventNotice, events: list[Event], description: str) -> Any:
    ticket = notification.ticket
    created = notification.created_at
    modified = max(notification.stix_modified or created, created)
    identity = _identity()
    marking = _marking(BATCH_TLP)
    ticket_ref = {
        "source_name": str(settings.CERT_NAME),
        "external_id": ticket,
        "description": "ticket",
    }
    common = {
        "created": created,
        "modified": modified,
        "created_by_ref": identity.id,
        "object_marking_refs": [marking.id],
    }
    observables: dict[str, Any] = {}
    observed: list[Any] = []
    malware: dict[str, Any] = {}
    sightings: list[Any] = []
    for event in events:
        fields = event.fields
        found = _observables(fields)
        if not found:
            continue
        for sco in found:
            observables.setdefault(sco.id, sco)
        seen = event.time_source or event.time_observation
        one = stix2.ObservedData(
            id=_id("observed-data", "event", event.event_id.hex),
            first_observed=seen,
            last_observed=seen,
            number_observed=1,
            object_refs=[sco.id for sco in found],
            labels=[notification.classification_type],
            external_references=[
                ticket_ref,
                {
                    "source_name": f"{settings.CERT_NAME} event",
                    "external_id": event.event_id.hex,
                },
            ],
            extensions={EVENT_EXTENSION: _event_properties(fields)},
            **common,
        )
        observed.append(one)
        name = str(fields.get("malware.name") or "").strip().lower()  # IntelMQ: lower case
        if name:
            family = malware.get(name)
            if family is None:
                # Shared by every batch naming it, so one version: fixed times.
                family = malware[name] = stix2.Malware(
                    id=_id("malware", name),
                    name=name,
                    is_family=True,
                    created=_DEFINITIONS_CREATED,
                    modified=_DEFINITIONS_CREATED,
                    created_by_ref=identity.id,
                    object_marking_refs=[marking.id],
                )
            sightings.append(
                stix2.Sighting(
                    id=_id("sighting", "event", event.event_id.hex),
                    sighting_of_ref=family.id,
                    observed_data_refs=[one.id],
                    first_seen=seen,
                    last_seen=seen,
                    count=1,
                    external_references=[ticket_ref],
                    **common,
                )
            )
    report = stix2.Report(
        id=_id("report", "ticket", ticket),
        name=f"{ticket} {notification.classification_type}",
        description=description,
        published=created,
        report_types=["observed-data"],
        labels=[notification.classification_type],
        object_refs=[o.id for o in [*observed, *malware.values(), *sightings]] or [identity.id],
        external_references=[ticket_ref],
        **common,
    )
    # The extension-definition (event_extension()) is not sent: medallion 3.0.0, the OASIS
    # reference TAXII server, answers 500 to an extension-definition (it reads its
    # `version` property, "1.0.0", as a timestamp). Its id is fixed, docs/exchange.md
    # gives its schema, and STIX does not require the definition in the same bundle.
    return stix2.Bundle(
        objects=[
            identity,
            marking,
            report,
            *observed,
            *malware.values(),
            *sightings,
            *observables.values(),
        ],
        id=_id("bundle", "ticket", ticket, modified.isoformat()),
    )


# --- delivery ---------------------------------------------------------------------------


def _connection_args(setting: RecipientSettings) -> dict[str, Any]:
    secret = sealing.unseal(setting.taxii_secret_sealed)
    if setting.taxii_user:
        return {"user": setting.taxii_user, "password": secret}
    return {"auth": BearerAuth(secret)} if secret else {}


def _with_timeout(endpoint: Any) -> Any:
    # taxii2-client passes no timeout to requests: a server that accepts the connection
    # and never answers would hold the worker forever.
    session = endpoint._conn.session
    session.request = functools.partial(session.request, timeout=REQUEST_SECONDS)
    return endpoint


def deliver(
    notification: EventNotice,
    setting: RecipientSettings,
    events: list[Event],
    description: str,
    poll_seconds: float = POLL_SECONDS,
    *,
    record: Callable[[EventNotice, str], None],
) -> str:
    """POST the batch (or poll the POST made earlier); the error, or "" when the server
    has stored the batch. `notification.taxii_status_id` is set and handed to `record`
    (`exchange.services.record_taxii_progress`, which commits it) as soon as the server
    has accepted the POST; `stix_modified` likewise before the first POST."""
    problems = endpoint_problems(setting.taxii_api_root, setting.taxii_collection)
    if problems:
        return _("TAXII endpoint: %(problem)s") % {"problem": " ".join(problems.values())}
    api_root = setting.taxii_api_root.rstrip("/") + "/"
    try:
        auth = _connection_args(setting)
    except sealing.Unreadable:
        return _(
            "The TAXII credential cannot be read (the secret key has changed): enter it again."
        )
    try:
        # Collection() makes no request; its connection (with the timeout) serves both.
        collection = _with_timeout(Collection(setting.taxii_collection_url, **auth))
        if notification.taxii_status_id:
            status_url = f"{api_root}status/{notification.taxii_status_id}/"
            status = Status(status_url, conn=collection._conn)
        else:
            if notification.stix_modified is None:
                notification.stix_modified = timezone.now()
                record(notification, "stix_modified")
            bundle = build_bundle(notification, events, description)
            objects = stixtime.comparable(orjson.loads(bundle.serialize())["objects"])
            status = collection.add_objects({"objects": objects}, wait_for_completion=False)
            if not COLLECTION_ID.fullmatch(str(status.id)):
                raise ValueError(f"the server's status id is malformed: {str(status.id)[:100]!r}")
            notification.taxii_status_id = str(status.id)
            record(notification, "taxii_status_id")
        if status.status != "complete" and poll_seconds > 0:
            status.wait_until_final(poll_interval=1, timeout=poll_seconds)
    except (
        requests.RequestException,
        TAXIIServiceException,
        ValueError,
        OSError,
        KeyError,  # a status without the fields TAXII requires
        TypeError,
        AttributeError,
    ) as exc:
        return f"{type(exc).__name__}: {exc}"[:2000]
    if status.status != "complete":
        return _("The TAXII server has not finished storing the batch (status %(id)s).") % {
            "id": status.id
        }
    refusal = _refusal(status)
    if refusal:
        # The next attempt posts new versions rather than polling a status that will not
        # change (or re-posting versions the server already turned down).
        notification.taxii_status_id = ""
        notification.stix_modified = None
    return refusal


def _refusal(status: Any) -> str:
    """Shared objects (identity, marking, addresses) may already be on the server from an
    earlier batch; the batch is refused only if one of its own objects (the report, an
    observed-data) is."""
    own = ("report--", "observed-data--", "sighting--")
    details = [f for f in status.failures if isinstance(f, dict)]
    failed = [f for f in details if str(f.get("id", "")).startswith(own)]
    if not failed and (status.failures or not status.failure_count or status.success_count):
        return ""
    return _("The TAXII server refused %(n)d of %(total)d objects: %(message)s") % {
        "n": len(failed) or status.failure_count,
        "total": status.total_count,
        "message": str(failed[0].get("message", "") if failed else "")[:500] or "-",
    }
