"""The access matrix: every role and organisation relation x every object type x every
read path (web list, web detail, API list, API detail, counts). The expectations below
are a full table written from docs/access.md, independent of the code under test."""

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from bulwark.conftest import bearer, sign_in
from bulwark.constituency import services
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Contact, Membership, NetworkClaim, Organisation, User
from bulwark.constituency.rules import token_scopes
from bulwark.core import audit

# The world: a CERT, two authorities with agencies under them, an ISAC and a foreign CERT.
ORGS = {
    "CERT": ("national_cert", None),
    "AuthA": ("authority", "CERT"),
    "A1": ("government_agency", "AuthA"),
    "A2": ("ci_operator", "AuthA"),
    "AuthB": ("authority", "CERT"),
    "B1": ("government_agency", "AuthB"),
    "ISAC": ("isac", None),
    "Foreign": ("foreign_cert", None),
}
# username -> (organisation, role); "nobody" has no membership.
PEOPLE = {
    "admin": ("CERT", "platform_admin"),
    "duty": ("CERT", "duty_officer"),
    "analyst": ("CERT", "analyst"),
    "revA": ("AuthA", "reviewer"),
    "admA1": ("A1", "org_admin"),
    "repA1": ("A1", "reporter"),
    "repB1": ("B1", "reporter"),
    "isac": ("ISAC", "isac_member"),
    "foreign": ("Foreign", "reporter"),
    "nobody": (None, None),
}
ALL = set(ORGS)

# Organisations whose record each person may open (own + supervised + authorities above).
SEES_ORGS = {
    "admin": ALL,
    "duty": ALL,
    "analyst": ALL,
    "revA": {"AuthA", "A1", "A2", "CERT"},
    "admA1": {"A1", "AuthA", "CERT"},
    "repA1": {"A1", "AuthA", "CERT"},
    "repB1": {"B1", "AuthB", "CERT"},
    "isac": {"ISAC"},
    "foreign": {"Foreign"},
    "nobody": set(),
}
# Organisations whose networks, contacts and memberships each person may read
# (own + supervised; never the authorities above).
SEES_DETAILS = {
    "admin": ALL,
    "duty": ALL,
    "analyst": ALL,
    "revA": {"AuthA", "A1", "A2"},
    "admA1": {"A1"},
    "repA1": {"A1"},
    "repB1": {"B1"},
    "isac": {"ISAC"},
    "foreign": {"Foreign"},
    "nobody": set(),
}
# Audit entries (by the organisation they concern) each person may read.
SEES_AUDIT = {"admin": ALL, "admA1": {"A1"}}


def sees_users(username: str) -> set[str]:
    """Yourself, plus everyone with a membership in an organisation you see in detail."""
    if username in {"admin", "duty", "analyst"}:
        return set(PEOPLE)
    return {username} | {p for p, (org, _r) in PEOPLE.items() if org in SEES_DETAILS[username]}


@dataclass
class World:
    orgs: dict[str, Organisation]
    users: dict[str, User]


@pytest.fixture
def world(db: Any) -> World:
    orgs: dict[str, Organisation] = {}
    for name, (kind, parent) in ORGS.items():
        orgs[name] = services.create_organisation(
            None, name=name, short_name=name, kind=kind, country="TW",
            parent=orgs[parent] if parent else None,
        )  # fmt: skip
    for i, (name, org) in enumerate(orgs.items()):
        services.add_network(None, org, "cidr", f"198.18.{i}.0/24")
        services.add_contact(None, org, purpose="security", email=f"soc@{name.lower()}.example")
    users: dict[str, User] = {}
    for username, (org_name, role) in PEOPLE.items():
        users[username] = services.create_user(
            None, username=username, email=f"{username}@example.org", password="x" * 16
        )
        if org_name:
            services.add_membership(None, users[username], orgs[org_name], role)
    for org in orgs.values():
        audit.record(None, "test.touched", org, organisation_id=org.pk)
    return World(orgs, users)


def web(world: World, username: str) -> Client:
    return sign_in(Client(), world.users[username])


def api(world: World, username: str) -> Client:
    client = Client()
    client.defaults.update(bearer(world.users[username]))
    return client


def org_names(world: World, ids: set[int]) -> set[str]:
    by_id = {o.pk: n for n, o in world.orgs.items()}
    return {by_id[i] for i in ids}


USERNAMES = [u for u in PEOPLE if u != "nobody"] + ["nobody"]


@pytest.mark.parametrize("username", USERNAMES)
def test_organisations(world: World, username: str) -> None:
    expected = SEES_ORGS[username]
    client, token = web(world, username), api(world, username)
    # web list
    page = client.get(reverse("organisation-list")).content.decode()
    assert {n for n in ORGS if f">{n}</a>" in page} == expected
    # API list and its count
    body = token.get("/api/v1/organisations/?limit=1000").json()
    assert org_names(world, {o["id"] for o in body["results"]}) == expected
    assert body["count"] == len(expected)
    # dashboard count
    home = client.get(reverse("home"))
    assert home.context["counts"]["organisations"] == len(expected)
    # web and API detail of every organisation
    for name, org in world.orgs.items():
        want = 200 if name in expected else 404
        assert client.get(reverse("organisation-detail", args=[org.pk])).status_code == want, name
        assert token.get(f"/api/v1/organisations/{org.pk}/").status_code == want, name


@pytest.mark.parametrize("username", USERNAMES)
@pytest.mark.parametrize(
    ("model", "endpoint"),
    [(NetworkClaim, "networks"), (Contact, "contacts"), (Membership, "memberships")],
)
def test_organisation_owned_objects(world: World, username: str, model: Any, endpoint: str) -> None:
    expected_orgs = SEES_DETAILS[username]
    rows = model.objects.filter(organisation__in=world.orgs.values())
    expected = {r.pk for r in rows if r.organisation.name in expected_orgs}
    if model is Membership:  # your own memberships, wherever they are
        expected |= {r.pk for r in rows if r.user.username == username}
    token = api(world, username)
    body = token.get(f"/api/v1/{endpoint}/?limit=1000").json()
    assert {r["id"] for r in body["results"]} == expected
    assert body["count"] == len(expected)
    for row in rows:
        want = 200 if row.pk in expected else 404
        assert token.get(f"/api/v1/{endpoint}/{row.pk}/").status_code == want
    if model is NetworkClaim:
        client = web(world, username)
        assert client.get(reverse("home")).context["counts"]["networks"] == len(expected)
        for org in world.orgs.values():
            response = client.get(reverse("organisation-detail", args=[org.pk]))
            if response.status_code == 200:
                shown = {c.pk for c in response.context["claims"]}
                assert shown == {
                    r.pk for r in rows if r.organisation_id == org.pk and r.pk in expected
                }


@pytest.mark.parametrize("username", USERNAMES)
def test_users(world: World, username: str) -> None:
    expected = sees_users(username)
    client, token = web(world, username), api(world, username)
    body = token.get("/api/v1/users/?limit=1000").json()
    listed = {u["username"] for u in body["results"]} & set(PEOPLE)
    assert listed == expected
    page = client.get(reverse("user-list")).content.decode()
    assert {p for p in PEOPLE if f">{p}</a>" in page} == expected
    for other, user in world.users.items():
        want = 200 if other in expected else 404
        assert client.get(reverse("user-detail", args=[user.pk])).status_code == want
        assert token.get(f"/api/v1/users/{user.pk}/").status_code == want


@pytest.mark.parametrize("username", USERNAMES)
def test_audit_log(world: World, username: str) -> None:
    allowed = SEES_AUDIT.get(username, set())
    token = api(world, username)
    response = token.get("/api/v1/audit/?action=test.touched&limit=1000")
    if allowed:
        body = response.json()
        assert org_names(world, {e["organisation_id"] for e in body["results"]}) == allowed
    else:  # their roles do not allow a token with audit:read
        assert response.status_code == 403
    page = web(world, username).get(reverse("audit-list") + "?action=test.touched")
    assert page.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("path", ["/api/v1/organisations/", "/api/v1/networks/", "/api/v1/users/"])
def test_anonymous_api_is_refused(world: World, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 401
    assert "credentials" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/", "/organisations/", "/users/", "/audit/", "/accounts/tokens/"]
)
def test_anonymous_web_is_sent_to_login(world: World, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_deactivated_organisation_grants_nothing(world: World) -> None:
    services.update_organisation(world.users["admin"], world.orgs["A1"], is_active=False)
    body = api(world, "repA1").get("/api/v1/organisations/").json()
    assert body["count"] == 0


def test_removed_membership_takes_effect_at_once(world: World) -> None:
    membership = Membership.objects.get(user=world.users["repB1"])
    token = api(world, "repB1")
    assert token.get(f"/api/v1/organisations/{world.orgs['B1'].pk}/").status_code == 200
    services.remove_membership(world.users["admin"], membership)
    assert token.get(f"/api/v1/organisations/{world.orgs['B1'].pk}/").status_code == 404


def test_writes_cannot_name_invisible_organisations(world: World) -> None:
    """An organisation admin of A1 cannot add a contact to B1 or make anyone a member
    there: the API answers as if B1 did not exist."""
    token = api(world, "admA1")
    b1 = world.orgs["B1"].pk
    contact = token.post(
        "/api/v1/contacts/",
        {"organisation": b1, "purpose": "abuse", "email": "x@b1.example"},
        content_type="application/json",
    )
    assert contact.status_code == 400 and "does not exist" in contact.json()["organisation"][0]
    member = token.post(
        "/api/v1/memberships/",
        {"user": "repA1", "organisation": b1, "role": "reporter"},
        content_type="application/json",
    )
    assert member.status_code == 400 and "organisation" in member.json()
    assert not Contact.objects.filter(organisation_id=b1, email="x@b1.example").exists()


# --- Incidents: (organisation, TLP, reporter) -> who may read it ------------------------
INCIDENTS = {
    "A1-amber": ("A1", "amber", "repA1"),
    "A1-strict": ("A1", "amber+strict", "repA1"),
    "A1-red": ("A1", "red", "repA1"),
    "A2-amber": ("A2", "amber", "admin"),
    "B1-amber": ("B1", "amber", "repB1"),
}
SEES_INCIDENTS = {
    "admin": set(INCIDENTS),
    "duty": set(INCIDENTS),
    "analyst": set(INCIDENTS),
    "revA": {"A1-amber", "A1-strict", "A1-red", "A2-amber"},  # the reviewing authority
    "admA1": {"A1-amber", "A1-strict"},  # not RED: named people only
    "repA1": {"A1-amber", "A1-strict", "A1-red"},
    "repB1": {"B1-amber"},
    "isac": set(),
    "foreign": set(),
    "nobody": set(),
}


@pytest.fixture
def incidents(world: World) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from bulwark.incidents.levels import Answers
    from bulwark.incidents.services import report_incident

    made = {}
    for title, (org, tlp, reporter) in INCIDENTS.items():
        made[title] = report_incident(
            world.users[reporter], world.orgs[org], title=title, description="d",
            rsit_class="other", rsit_type="other", answers=Answers(),
            aware_at=timezone.now() - timedelta(minutes=5), tlp=tlp,
        )  # fmt: skip
    return made


@pytest.mark.parametrize("username", USERNAMES)
def test_incidents(world: World, incidents: dict[str, Any], username: str) -> None:
    expected = SEES_INCIDENTS[username]
    by_id = {i.pk: t for t, i in incidents.items()}
    token = api(world, username)
    token.defaults["HTTP_AUTHORIZATION"] = bearer(world.users[username], ["incidents:read"])[
        "HTTP_AUTHORIZATION"
    ]
    body = token.get("/api/v1/incidents/?limit=1000").json()
    assert {by_id[i["id"]] for i in body["results"]} == expected
    assert body["count"] == len(expected)
    # The counts never reveal a case the viewer cannot open.
    stats = token.get("/api/v1/incidents/stats/").json()
    assert stats["total"] == len(expected)
    assert sum(stats["by_level"].values()) == sum(stats["by_class"].values()) == len(expected)
    client = web(world, username)
    page = client.get("/incidents/").content.decode()
    assert {t for t, i in incidents.items() if f">{i.reference}</a>" in page} == expected
    csv_rows = b"".join(client.get("/incidents/?format=csv").streaming_content).decode()
    assert {t for t in incidents if f",{t}," in csv_rows} == expected
    assert client.get("/").context["counts"]["open_incidents"] == len(expected)
    for title, incident in incidents.items():
        want = 200 if title in expected else 404
        assert token.get(f"/api/v1/incidents/{incident.pk}/").status_code == want, title
        assert client.get(f"/incidents/{incident.pk}/").status_code == want, title


@pytest.fixture
def incident_history(world: World, incidents: dict[str, Any]) -> dict[str, list[str]]:
    """Evidence and a task on every incident; the words of each that must not leak."""
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from bulwark.incidents.services import add_evidence, add_task

    secrets = {}
    for title, incident in incidents.items():
        reporter = world.users[INCIDENTS[title][2]]
        content = f"evidence of {title}".encode()
        evidence = add_evidence(
            reporter, incident, SimpleUploadedFile(f"{title}-capture.pcap", content)
        )
        add_task(
            reporter, incident, title=f"{title} wipe the server", owner=reporter,
            due_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip
        secrets[title] = [
            incident.reference,
            f"{title}-capture.pcap",
            evidence.sha256,
            f"{title} wipe",
        ]
    return secrets


@pytest.mark.parametrize("username", USERNAMES)
def test_audit_entries_about_incidents_follow_the_incident(
    world: World, incidents: dict[str, Any], incident_history: dict[str, list[str]], username: str
) -> None:
    """An organisation admin who cannot open a TLP:RED incident of their organisation
    does not read its reference, title, evidence or tasks in the audit log either."""
    audit_orgs = SEES_AUDIT.get(username, set())
    expected = {t for t in SEES_INCIDENTS[username] if INCIDENTS[t][0] in audit_orgs}
    body = api(world, username).get("/api/v1/audit/?limit=1000").content.decode()
    page_response = web(world, username).get(reverse("audit-list"))
    page = page_response.content.decode()
    for title, words in incident_history.items():
        for word in words:
            assert (word in body) == (title in expected), (title, word, "API")
            if audit_orgs:
                assert (word in page) == (title in expected), (title, word, "page")
    assert page_response.status_code == (200 if audit_orgs else 403)
    # A detail read of an entry about the hidden incident answers 404 as well.
    from bulwark.core.models import AuditEntry

    for title, incident in incidents.items():
        entry = AuditEntry.objects.filter(
            object_type="incidents.incident", object_id=str(incident.pk)
        ).first()
        assert entry is not None
        status = api(world, username).get(f"/api/v1/audit/{entry.seq}/").status_code
        if "audit:read" not in token_scopes(viewer_of(world.users[username])):
            assert status == 403, title  # a token of this role never holds audit:read
        else:
            assert status == (200 if title in expected else 404), title
