"""Event search, shared by the pages and the API (always on a `visible_to` queryset)."""

import ipaddress
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from bulwark.constituency.networks import InvalidClaim, parse_asn, parse_domain
from bulwark.core.params import whole_number
from bulwark.core.views import date_param
from bulwark.exchange.models import Event

MAX_SQLITE_CIDR_CANDIDATES = 50_000


class BadFilter(ValueError):
    """A search parameter that cannot mean anything; the message says which."""


def _start(day: Any, days_after: int = 0) -> datetime:
    moment = datetime.combine(day, time.min)
    aware = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    return aware + timedelta(days=days_after)


def filter_events(events: QuerySet[Event], params: Any) -> QuerySet[Event]:
    """Filters: ip, cidr, asn, domain, type, taxonomy, feed, recipient (id, or
    "unrouted"), country, report, since/until (days, by time received)."""
    get = params.get
    if get("ip"):
        try:
            events = events.filter(source_ip=str(ipaddress.ip_address(str(get("ip")).strip())))
        except ValueError:
            raise BadFilter(f"ip: {str(get('ip'))[:60]!r} is not an IP address") from None
    if get("cidr"):
        events = _in_cidr(events, str(get("cidr")))
    if get("asn"):
        try:
            events = events.filter(source_asn=parse_asn(str(get("asn"))))
        except InvalidClaim as exc:
            raise BadFilter(f"asn: {exc}") from None
    if get("domain"):
        try:
            name = parse_domain(str(get("domain")))
        except InvalidClaim as exc:
            raise BadFilter(f"domain: {exc}") from None
        # the domain or any name under it, on label boundaries
        events = events.filter(source_fqdn=name) | events.filter(source_fqdn__endswith="." + name)
    for param, field in (("type", "classification_type"), ("taxonomy", "taxonomy"),
                         ("feed", "feed_name"), ("country", "country")):  # fmt: skip
        if get(param):
            events = events.filter(**{field: str(get(param))[:100]})
    recipient = str(get("recipient") or "")
    if recipient == "unrouted":
        events = events.filter(recipient__isnull=True)
    elif recipient:
        if whole_number(recipient) is None:
            raise BadFilter(f"recipient: {recipient[:60]!r} is not an organisation id")
        events = events.filter(recipient_id=whole_number(recipient))
    if get("report"):
        report = whole_number(get("report"))
        if report is None:
            raise BadFilter(f"report: {str(get('report'))[:60]!r} is not a report id")
        events = events.filter(report_id=report)
    since, until = date_param(get("since")), date_param(get("until"))
    if since:
        events = events.filter(time_observation__gte=_start(since))
    if until:
        events = events.filter(time_observation__lt=_start(until, 1))
    return events


def _in_cidr(events: QuerySet[Event], text: str) -> QuerySet[Event]:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise BadFilter(f"cidr: {text[:60]!r} is not an IP prefix") from None
    if connection.vendor == "postgresql":
        return events.extra(where=["source_ip <<= %s::inet"], params=[str(network)])
    # SQLite (development): narrow by the text of the leading whole octets/groups, then test
    # each candidate exactly.
    if network.version == 4:
        whole = network.prefixlen // 8
        prefix = ".".join(str(network.network_address).split(".")[:whole])
        prefix = prefix + "." if whole else ""
    else:
        prefix = ""
    candidates = events.filter(source_ip__startswith=prefix).values_list("pk", "source_ip")
    keep = [
        pk
        for pk, ip in candidates[:MAX_SQLITE_CIDR_CANDIDATES]
        if ip and ipaddress.ip_address(ip) in network
    ]
    return events.filter(pk__in=keep)


def statistics(events: QuerySet[Event]) -> dict[str, list[dict[str, Any]]]:
    """Counts by classification, feed, recipient and country (over visible events)."""

    def by(*fields: str) -> list[dict[str, Any]]:
        return list(events.values(*fields).annotate(n=Count("id")).order_by("-n")[:50])

    return {
        "classification": by("taxonomy", "classification_type"),
        "feed": by("feed_name"),
        "recipient": by("recipient_id", "recipient__name", "recipient__kind"),
        "country": by("country"),
        # "reports from foreign CERTs by category": events of reports carrying a sender's
        # ticket (X-ARF, IODEF, mail from a CERT)
        "from_foreign": [
            dict(row)
            for row in events.exclude(report__foreign_ticket="")
            .values("report__provider", "classification_type")
            .annotate(n=Count("id"))
            .order_by("-n")[:50]
        ],
    }
