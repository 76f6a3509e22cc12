"""The router compiled from the constituency, cached until the constituency changes.

The cache key is a cheap fingerprint (counts and latest ids/times of claims, rules,
country table and foreign CERTs), checked once per report, not once per event.
"""

import os
import threading
from typing import Any

from django.db.models import Count, Max

from bulwark.constituency.models import NetworkClaim, Organisation, OrganisationKind
from bulwark.constituency.networks import Claim
from bulwark.exchange.engine.router import Router
from bulwark.exchange.engine.router import Rule as EngineRule
from bulwark.exchange.models import CountryNetwork, Rule

HOME_COUNTRIES = tuple(
    c.strip().upper() for c in os.environ.get("BULWARK_HOME_COUNTRIES", "TW").split(",") if c
)
_lock = threading.Lock()
_cached: tuple[Any, Router] | None = None


def fingerprint() -> Any:
    return (
        tuple(
            NetworkClaim.objects.aggregate(
                n=Count("id"), last=Max("id"), t=Max("created_at")
            ).values()
        ),
        tuple(Rule.objects.aggregate(n=Count("id"), t=Max("updated_at")).values()),
        tuple(CountryNetwork.objects.aggregate(n=Count("id"), last=Max("id")).values()),
        # any organisation change: activation, a foreign CERT's country, ...
        tuple(Organisation.objects.aggregate(n=Count("id"), t=Max("updated_at")).values()),
    )


def compile_router() -> Router:
    active = Organisation.objects.filter(is_active=True)
    claims = [
        Claim(kind, value, owner)
        for kind, value, owner in NetworkClaim.objects.filter(organisation__in=active).values_list(
            "kind", "value", "organisation_id"
        )
    ]
    foreign: dict[str, int] = {}
    for pk, country in (
        active.filter(kind=OrganisationKind.FOREIGN_CERT)
        .order_by("pk")
        .values_list("pk", "country")
    ):
        foreign.setdefault(country, pk)  # the first registered CERT of a country
    countries = CountryNetwork.objects.values_list("kind", "value", "country")
    rules = [
        EngineRule(
            r.action, r.organisation_id, r.network_kind, r.network, r.classification_type, r.pk
        )
        for r in Rule.objects.filter(is_active=True).order_by("pk")
    ]
    return Router(
        claims,
        foreign_certs=foreign,
        home_countries=HOME_COUNTRIES,
        country_prefixes=[(v, c) for k, v, c in countries if k == "cidr"],
        asn_countries={int(v): c for k, v, c in countries if k == "asn"},
        rules=rules,
    )


def current_router() -> Router:
    """The compiled router, rebuilt when the constituency or the rules changed."""
    global _cached
    key = fingerprint()
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, compile_router())
        return _cached[1]


def forget() -> None:
    global _cached
    with _lock:
        _cached = None
