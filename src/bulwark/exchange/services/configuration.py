"""What the CERT configures: routing rules, recipients' delivery settings, column
mappings of generic feeds, pulled feeds and the country table; each change checked,
in one transaction, audited."""

import io
import ipaddress
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency.models import Organisation, OrganisationKind, User
from bulwark.core import audit
from bulwark.core.countries import ISO_3166_ALPHA2
from bulwark.core.permissions import require
from bulwark.exchange import sealing, taxii_client
from bulwark.exchange.engine import formats
from bulwark.exchange.engine.formats.base import Context, ReportError, clip
from bulwark.exchange.models import (
    Channel,
    ColumnMapping,
    CountryNetwork,
    Feed,
    RecipientSettings,
    Rule,
)


def add_rule(actor: User | None, **fields: Any) -> Rule:
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    rule = Rule(**fields)
    if rule.network_kind:
        from bulwark.constituency import networks

        try:
            rule.network = networks.normalise(rule.network_kind, rule.network)
        except networks.InvalidClaim as exc:
            raise ValidationError({"network": str(exc)}) from None
    rule.full_clean()
    with transaction.atomic():
        rule.save()
        audit.record(actor, "exchange.rule.added", rule, changes=fields)
    return rule


RECIPIENT_FIELDS = (
    "cadence", "language", "email", "enabled", "channel", "taxii_api_root",
    "taxii_collection", "taxii_user",
)  # fmt: skip
KEEP = object()  # "leave the stored TAXII secret as it is"


def configure_recipient(
    actor: User | None, organisation: Organisation, *, taxii_secret: Any = KEEP, **fields: Any
) -> RecipientSettings:
    """Create or change an organisation's delivery settings. TAXII delivery is for
    foreign CERTs, needs a valid endpoint, and its secret is sealed; the audit entry says
    that the secret changed, never what it is."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    unknown = set(fields) - set(RECIPIENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown recipient settings: {', '.join(sorted(unknown))}")
    setting = RecipientSettings.objects.filter(organisation=organisation).first()
    setting = setting or RecipientSettings(organisation=organisation)
    before = {name: getattr(setting, name) for name in RECIPIENT_FIELDS}
    for name, value in fields.items():
        setattr(setting, name, value.strip() if isinstance(value, str) else value)
    if taxii_secret is not KEEP:
        secret = str(taxii_secret)
        if len(secret) > 2000 or any(ord(c) < 32 or ord(c) == 127 for c in secret):
            raise ValidationError(
                {"taxii_secret": _("The secret is too long or holds control characters.")}
            )
        setting.taxii_secret_sealed = sealing.seal(secret)
    if setting.channel == Channel.TAXII:
        if organisation.kind != OrganisationKind.FOREIGN_CERT:
            raise ValidationError(
                {"channel": _("Only foreign CERTs can receive their reports over TAXII.")}
            )
        problems = taxii_client.endpoint_problems(setting.taxii_api_root, setting.taxii_collection)
        if problems:
            raise ValidationError(problems)
    setting.full_clean()
    changes = {
        name: [before[name], getattr(setting, name)]
        for name in RECIPIENT_FIELDS
        if before[name] != getattr(setting, name)
    }
    if taxii_secret is not KEEP:
        changes["taxii_secret"] = ["(sealed)", "(changed)"]
    with transaction.atomic():
        setting.save()
        audit.record(
            actor,
            "exchange.recipient.configured",
            setting,
            organisation_id=organisation.pk,
            changes=changes,
        )
    return setting


# --- column mappings (generic CSV / JSON feeds) -------------------------------------------

MAPPING_OPTIONS = {"header": bool, "comment": str, "strip": bool, "none": list}
PREVIEW_EVENTS = 20


def clean_mapping(data: dict[str, Any]) -> dict[str, Any]:
    """A mapping as the parser reads it, or ValidationError saying what is wrong with it
    ({"columns": {field: column}, "constants": {field: value}, "delimiter": ",", options})."""
    from bulwark.exchange.engine.fields import EVENT_FIELDS

    if not isinstance(data, dict):
        raise ValidationError(_("A mapping is a JSON object."))
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ValidationError(
            {"columns": _('Name at least one field and its column, e.g. {"source.ip": "ip"}.')}
        )
    constants = data.get("constants") or {}
    if not isinstance(constants, dict):
        raise ValidationError({"constants": _("Constants are a JSON object: field -> value.")})
    for key in [*columns, *constants]:
        if not isinstance(key, str) or not (key in EVENT_FIELDS or key.startswith("extra.")):
            raise ValidationError(
                {
                    "columns": _("%(field)s is not an IntelMQ field (or extra.<name>).")
                    % {"field": key}
                }
            )
    for key, column in columns.items():
        if not isinstance(column, str | int) or str(column) == "":
            raise ValidationError(
                {
                    "columns": _("The column of %(field)s must be a name or a number.")
                    % {"field": key}
                }
            )
    if "classification.type" in constants:
        from bulwark.exchange.engine.event import TAXONOMY_OF_TYPE, TYPE_ALIASES

        kind = str(constants["classification.type"]).strip().lower()
        if TYPE_ALIASES.get(kind, kind) not in TAXONOMY_OF_TYPE:
            raise ValidationError(
                {"constants": _("%(type)s is not an RSIT classification type.") % {"type": kind}}
            )
    delimiter = str(data.get("delimiter") or ",")
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise ValidationError(
            {"delimiter": _("The delimiter is one character, e.g. , ; | or a tab.")}
        )
    cleaned: dict[str, Any] = {
        "columns": {k: str(v) for k, v in columns.items()},
        "constants": constants,
        "delimiter": delimiter,
    }
    for option, kind_of in MAPPING_OPTIONS.items():
        if option in data:
            if not isinstance(data[option], kind_of):
                raise ValidationError(
                    {option: _("%(option)s has the wrong type.") % {"option": option}}
                )
            cleaned[option] = data[option]
    return cleaned


def save_mapping(actor: User | None, name: str, data: dict[str, Any]) -> ColumnMapping:
    """Create or replace the saved mapping `name` (CERT staff; audited)."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    from django.utils.text import slugify

    if not name or slugify(name) != name or len(name) > 100:
        raise ValidationError({"name": _("A mapping's name is a slug: letters, digits, - and _.")})
    cleaned = clean_mapping(data)
    options = {k: cleaned[k] for k in MAPPING_OPTIONS if k in cleaned}
    with transaction.atomic():
        mapping, created = ColumnMapping.objects.update_or_create(
            name=name,
            defaults={
                "columns": cleaned["columns"],
                "constants": cleaned["constants"],
                "delimiter": cleaned["delimiter"],
                "options": options,
            },
        )
        audit.record(
            actor,
            "exchange.mapping.created" if created else "exchange.mapping.changed",
            mapping,
            changes=mapping.as_options(),
        )
    return mapping


def preview_mapping(
    actor: User | None, data: dict[str, Any], sample: bytes, fmt: str = "csv"
) -> dict[str, Any]:
    """What a mapping makes of a sample, without storing anything: the first events (as
    Bulwark stores them) and every refused record with its reason (CERT staff)."""
    if actor is not None:  # None: the platform itself
        require(actor, "exchange.manage")
    from bulwark.exchange.engine.event import Invalid, normalise

    if fmt not in ("csv", "json"):
        raise ValidationError({"format": _("A mapping is for csv or json.")})
    ctx = Context(file_name="sample", options={"mapping": clean_mapping(data)})
    observed = timezone.now().isoformat()
    events: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    read = made = 0
    try:
        for item in formats.parse(fmt, io.BytesIO(sample), ctx):
            read += 1
            if item.error is None and item.fields is not None:
                try:
                    event = normalise(item.fields, {"time.observation": observed})
                except Invalid as exc:
                    item.error = str(exc)
                else:
                    made += 1
                    if len(events) < PREVIEW_EVENTS:
                        events.append({"record": item.number, "event": event})
                    continue
            refused.append(
                {"record": item.number, "reason": item.error, "raw": clip(item.raw)[:500]}
            )
    except ReportError as exc:
        raise ValidationError({"sample": str(exc)}) from None
    return {"read": read, "events": made, "refused": refused[:100], "first_events": events}


# --- Pulled feeds and the country table (operator pages; before, only the shell) ---------

FEED_FIELDS = ("name", "url", "format", "mapping", "interval_minutes", "enabled")


def save_feed(actor: User, feed: Feed | None, **fields: Any) -> Feed:
    """Create a pulled feed (`feed` None) or change one (CERT staff; audited with what
    changed). A feed names a saved column mapping only if that mapping exists."""
    require(actor, "exchange.manage")
    feed = feed if feed is not None else Feed()
    before = {name: getattr(feed, name) for name in FEED_FIELDS}
    for name in FEED_FIELDS:
        if name in fields:
            setattr(feed, name, fields[name])
    if urlparse(feed.url).scheme not in ("http", "https"):
        raise ValidationError({"url": _("Only http and https URLs are pulled.")})
    if feed.mapping and not ColumnMapping.objects.filter(name=feed.mapping).exists():
        raise ValidationError({"mapping": _("No saved column mapping has that name.")})
    feed.full_clean(exclude=["etag", "last_modified", "last_outcome", "last_error"])
    created = feed.pk is None
    changes = {
        name: getattr(feed, name)
        for name in FEED_FIELDS
        if created or before[name] != getattr(feed, name)
    }
    with transaction.atomic():
        feed.save()
        audit.record(
            actor,
            "exchange.feed.created" if created else "exchange.feed.changed",
            feed,
            changes=changes,
        )
    return feed


def record_pull(feed: Feed, now: datetime, outcome: str, error: str) -> str:
    """Note on the feed how its last pull went (the puller, `pull.pull`; audited as the
    system's)."""
    feed.last_pulled_at = now
    feed.last_outcome = outcome[:100]
    feed.last_error = error[:2000]
    with transaction.atomic():
        feed.save()
        audit.record(
            None, "exchange.feed.pulled", feed, changes={"outcome": outcome, "error": error}
        )
    return outcome


def delete_feed(actor: User, feed: Feed) -> None:
    """Stop pulling a feed and forget it (its reports stay; CERT staff; audited)."""
    require(actor, "exchange.manage")
    with transaction.atomic():
        audit.record(actor, "exchange.feed.deleted", feed, changes={"url": feed.url})
        feed.delete()


def _network_value(kind: str, value: str) -> str:
    """An IP prefix in its canonical form, or an AS number as digits ("AS3462" -> "3462")."""
    value = value.strip()
    if kind == CountryNetwork.Kind.CIDR:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValidationError({"value": _("Not an IP prefix.")}) from None
    if kind == CountryNetwork.Kind.ASN:
        digits = value.upper().removeprefix("AS")
        if not digits.isdigit() or not 0 < int(digits) < 2**32:
            raise ValidationError({"value": _("Not an AS number.")})
        return str(int(digits))
    raise ValidationError({"kind": _("Choose an IP prefix or an AS number.")})


def save_country_network(
    actor: User, network: CountryNetwork | None, kind: str, value: str, country: str
) -> CountryNetwork:
    """Say which country a prefix or AS is in (CERT staff; audited). A change is stored as a
    new row replacing the old one: the router notices new rows (it compares the table's
    count and last id), so routing follows the change at once."""
    require(actor, "exchange.manage")
    country = country.strip().upper()
    if country not in ISO_3166_ALPHA2:
        raise ValidationError({"country": _("Not an ISO 3166 country code (e.g. TW, JP).")})
    value = _network_value(kind, value)
    clash = CountryNetwork.objects.filter(kind=kind, value=value)
    if network is not None:
        clash = clash.exclude(pk=network.pk)
    if clash.exists():
        raise ValidationError({"value": _("This network already has a country.")})
    with transaction.atomic():
        before = None
        if network is not None:
            before = {"kind": network.kind, "value": network.value, "country": network.country}
            network.delete()
        network = CountryNetwork.objects.create(kind=kind, value=value, country=country)
        after = {"kind": kind, "value": value, "country": country}
        audit.record(
            actor,
            "exchange.country_network.changed" if before else "exchange.country_network.created",
            network,
            changes={"before": before, "after": after} if before else after,
        )
    return network


def delete_country_network(actor: User, network: CountryNetwork) -> None:
    """Forget a prefix's or AS's country (CERT staff; audited)."""
    require(actor, "exchange.manage")
    with transaction.atomic():
        audit.record(
            actor,
            "exchange.country_network.deleted",
            network,
            changes={"kind": network.kind, "value": network.value, "country": network.country},
        )
        network.delete()
