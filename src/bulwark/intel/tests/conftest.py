"""Fixtures of the intel tests: a small community with a hierarchy and collections."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bulwark.constituency import rules
from bulwark.constituency import services as cs
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory
from bulwark.core.tlp import STIX_MARKING_IDS, TLP
from bulwark.intel.models import Collection, SharingGroup

INTEL_SCOPES = ["intel:read", "intel:write"]


@dataclass
class Community:
    cert: Organisation
    authority: Organisation  # shares; has a client below it
    client: Organisation  # below the authority
    other: Organisation  # another member
    grouped: Organisation  # a member in the sharing group with the authority
    analyst: User
    sharer: User  # member of the authority
    colleague: User  # another member of the authority
    client_user: User
    other_user: User
    grouped_user: User
    loner: User  # signed in, no organisation
    community: Collection
    public: Collection
    private: Collection  # the authority's own collection
    group: SharingGroup


def member(org: Organisation, name: str, role: str = "isac_member") -> User:
    user = UserFactory(username=name)
    cs.add_membership(None, user, org, role)
    return user


@pytest.fixture
def community(db: Any) -> Community:
    cert = OrganisationFactory(name="National CERT", kind="national_cert")
    authority = OrganisationFactory(name="Finance ISAC authority", kind="authority")
    client = OrganisationFactory(name="Client bank", kind="ci_operator", parent=authority)
    other = OrganisationFactory(name="Other agency", kind="government_agency")
    grouped = OrganisationFactory(name="Grouped MSSP", kind="mssp")
    group = SharingGroup.objects.create(name="Finance circle")
    group.organisations.set([authority, grouped])
    return Community(
        cert=cert,
        authority=authority,
        client=client,
        other=other,
        grouped=grouped,
        analyst=member(cert, "analyst", "analyst"),
        sharer=member(authority, "sharer"),
        colleague=member(authority, "colleague"),
        client_user=member(client, "client-user"),
        other_user=member(other, "other-user"),
        grouped_user=member(grouped, "grouped-user"),
        loner=UserFactory(username="loner"),
        community=Collection.objects.create(title="Community", requires_review=False),
        public=Collection.objects.create(title="Public", public=True, requires_review=False),
        private=Collection.objects.create(
            title="Authority only", organisation=authority, requires_review=False
        ),
        group=group,
    )


def token(user: User, scopes: list[str] | None = None) -> str:
    """By default the intel scopes the user's roles allow (someone without an organisation
    may read, not write: docs/access.md)."""
    if scopes is None:
        allowed = rules.token_scopes(viewer_of(user))
        scopes = [s for s in INTEL_SCOPES if s in allowed]
    _token, secret = cs.create_api_token(None, user, name="t", scopes=scopes)
    return secret


def indicator(
    value: str = "198.51.100.7",
    *,
    path: str = "ipv4-addr:value",
    tlp: TLP | None = TLP.GREEN,
    modified: str = "2026-01-02T00:00:00.000Z",
    stix_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"Bad {value}",
        "pattern": f"[{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "confidence": 80,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [STIX_MARKING_IDS[tlp]]
    obj.update(extra)
    return obj


NOW = datetime(2026, 1, 10, tzinfo=UTC)
