"""Training learners signing in through their agency's identity provider (issue 24), with
the same real local providers as the staff flows (pyop for OIDC, pysaml2 for SAML; see
idp.py). A learner flow matches the e-mail claim to an existing active learner of the
provider's organisation, never creates one, signs a learner in and never a platform user;
a staff flow never signs a learner in."""

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from bulwark.constituency.models import Organisation, User
from bulwark.core.models import AuditEntry
from bulwark.sso import saml
from bulwark.sso.models import ExternalIdentity, SamlRequest
from bulwark.sso.tests import test_sso_flows as flows
from bulwark.sso.tests.idp import OidcProvider, SamlIdentityProvider, posted_form
from bulwark.sso.tests.test_sso_flows import oidc_sign_in, refusals, saml_user
from bulwark.training import services as training
from bulwark.training.models import Learner

UNKNOWN = "no active learner"
# The staff flows' fixtures: the same agency, platform admin and local identity providers.
agency, admin, oidc_idp, saml_idp = flows.agency, flows.admin, flows.oidc_idp, flows.saml_idp


@pytest.fixture
def learner(agency: Organisation, admin: User) -> Learner:
    return training.add_learner(
        admin, agency, staff_id="M-7", name="Lai Yu", email="yu@moe.example", role="general"
    )


def oidc_learner_sign_in(
    idp: OidcProvider, who: str, client: Client | None = None, query: str = ""
) -> Any:
    client = client or Client()
    idp.signed_in = who
    start = client.get(f"/sso/moe/learner/{query}")
    assert start.status_code == 302, start.content
    assert start["Location"].startswith(idp.base + "/authorize?")
    at_idp = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_idp.status_code == 303, at_idp.text
    back = urlsplit(at_idp.headers["Location"])
    assert back.path == "/sso/moe/oidc/callback/"  # the provider's one registered callback
    response = client.get(f"{back.path}?{back.query}")
    response.client = client  # type: ignore[attr-defined]
    return response


def saml_learner_sign_in(idp: SamlIdentityProvider, who: str, query: str = "") -> Any:
    client = Client()
    idp.signed_in = who
    start = client.get(f"/sso/moe-saml/learner/{query}")
    assert start.status_code == 302, start.content
    page = requests.get(start["Location"], timeout=10)
    action, fields = posted_form(page.text)
    assert action == saml.acs_url("moe-saml")  # the provider's one ACS
    # The IdP's answer is a cross-site POST: it carries no session cookie.
    response = Client().post(urlsplit(action).path, fields)
    response.client = client  # type: ignore[attr-defined]
    response.posted = fields  # type: ignore[attr-defined]
    return response


def _learner_page(client: Client) -> Any:
    return client.get("/training/learn/")


def test_oidc_learner_signs_in_as_the_agencys_learner_not_as_a_user(
    oidc_idp: Any, learner: Learner
) -> None:
    idp, provider = oidc_idp
    # The learner's groups map to no platform role: a learner needs none.
    idp.users["yu"] = {"sub": "yu-1", "email": "Yu@moe.example", "groups": [], "org": "MOE"}
    response = oidc_learner_sign_in(idp, "yu", query="?next=/training/learn/courses/x/")
    assert response.status_code == 302, refusals()
    assert response["Location"] == "/training/learn/courses/x/"
    home = _learner_page(response.client)
    assert home.status_code == 200 and "Lai Yu" in home.content.decode()
    # Not a platform session: platform pages send the learner to the platform sign-in.
    assert response.client.get("/")["Location"].startswith("/accounts/login/")
    assert not User.objects.filter(email="yu@moe.example").exists()
    assert not ExternalIdentity.objects.exists()
    entry = AuditEntry.objects.get(action="sso.learner_login")
    assert entry.object_id == str(learner.pk) and entry.changes["subject"] == "yu-1"
    assert entry.organisation_id == provider.organisation_id
    learner.refresh_from_db()
    assert learner.last_login is not None
    # The sign-in page now offers this agency's button in this browser.
    response.client.post("/training/learn/sign-out/")
    page = response.client.get("/training/learn/sign-in/").content.decode()
    assert "Sign in with MOE Entra" in page and "/sso/moe/learner/" in page


def test_unknown_or_deactivated_learner_gets_one_clear_answer_and_nothing_is_created(
    oidc_idp: Any, learner: Learner, admin: User
) -> None:
    idp, _provider = oidc_idp
    idp.users["nobody"] = {"sub": "n-1", "email": "nobody@moe.example", "org": "MOE"}
    unknown = oidc_learner_sign_in(idp, "nobody")
    assert unknown.status_code == 403 and UNKNOWN in unknown.content.decode()
    assert "/training/learn/sign-in/" in unknown.content.decode()
    assert _learner_page(unknown.client)["Location"].startswith("/training/learn/sign-in/")
    assert not Learner.objects.filter(email="nobody@moe.example").exists()
    training.deactivate_learner(admin, learner)
    idp.users["yu"] = {"sub": "yu-1", "email": "yu@moe.example", "org": "MOE"}
    inactive = oidc_learner_sign_in(idp, "yu")
    assert inactive.status_code == 403
    # The same words for both: the page does not tell a deactivated learner from none.
    assert unknown.context["message"] == inactive.context["message"]
    reasons = [(c["reason"], c["flow"]) for (c,) in refusals()]
    assert reasons == [("unknown_learner", "learner")] * 2
    assert not AuditEntry.objects.filter(action="sso.learner_login").exists()


def test_a_learner_of_another_agency_or_organisation_claim_is_refused(
    oidc_idp: Any, learner: Learner, admin: User
) -> None:
    idp, _provider = oidc_idp
    elsewhere = Organisation.objects.create(name="Other Ministry", kind="government_agency")
    training.add_learner(admin, elsewhere, staff_id="O-1", name="Other", email="o@moe.example",
                         role="general")  # fmt: skip
    idp.users["o"] = {"sub": "o-1", "email": "o@moe.example", "org": "MOE"}
    other_agency = oidc_learner_sign_in(idp, "o")
    assert other_agency.status_code == 403 and UNKNOWN in other_agency.content.decode()
    idp.users["yu"] = {"sub": "yu-1", "email": "yu@moe.example", "org": "ELSEWHERE"}
    unmapped = oidc_learner_sign_in(idp, "yu")
    assert unmapped.status_code == 403 and "not mapped" in unmapped.content.decode()
    assert sorted(c["reason"] for (c,) in refusals()) == [
        "unknown_learner",
        "unmapped_organisation",
    ]


def test_staff_and_learner_flows_do_not_cross(oidc_idp: Any, learner: Learner) -> None:
    """The staff flow signs a platform user in, never the learner; the learner flow signs
    the learner in, never a platform user, even from one browser and one callback."""
    idp, _provider = oidc_idp
    idp.users["yu"] = {"sub": "yu-1", "email": "yu@moe.example", "groups": ["moe-staff"],
                       "org": "MOE"}  # fmt: skip
    staff = oidc_sign_in(idp, "yu")
    assert staff.status_code == 302 and staff["Location"] == "/", refusals()
    assert staff.client.get("/").status_code == 200
    assert _learner_page(staff.client)["Location"].startswith("/training/learn/sign-in/")
    learner_side = oidc_learner_sign_in(idp, "yu")
    assert learner_side.status_code == 302
    assert _learner_page(learner_side.client).status_code == 200
    assert learner_side.client.get("/")["Location"].startswith("/accounts/login/")
    assert AuditEntry.objects.filter(action="sso.learner_login").count() == 1


def test_learner_sign_in_page_offers_the_agencys_button_by_its_sign_in_name(
    oidc_idp: Any,
) -> None:
    page = Client().get("/training/learn/sign-in/?sso=moe&next=/training/learn/courses/c/")
    text = page.content.decode()
    assert "Sign in with MOE Entra" in text
    assert "/sso/moe/learner/?next=%2Ftraining%2Flearn%2Fcourses%2Fc%2F" in text
    # No button for an unknown name, nor a list of every agency's provider.
    unknown = Client().get("/training/learn/sign-in/?sso=nope").content.decode()
    assert 'id="learner-sso-1"' not in unknown
    assert "MOE Entra" not in Client().get("/training/learn/sign-in/").content.decode()
    chosen = Client().get("/sso/learner/", {"slug": "moe", "next": "https://evil.example/"})
    assert chosen.status_code == 302 and chosen["Location"] == (
        "/sso/moe/learner/?next=%2Ftraining%2Flearn%2F"
    )
    assert Client().get("/sso/learner/", {"slug": "not a name!"}).status_code == 400
    assert Client().get("/sso/nobody-here/learner/").status_code == 404


def test_saml_learner_signs_in_and_the_answer_cannot_be_replayed(
    saml_idp: Any, learner: Learner
) -> None:
    idp, _provider = saml_idp
    idp.users["yu"] = saml_user("yu-persistent-1", "yu@moe.example", [])
    response = saml_learner_sign_in(idp, "yu", query="?next=/training/learn/")
    assert response.status_code == 302 and response["Location"] == "/training/learn/", refusals()
    # The POST's response set the learner's session cookie on the browser that posted it.
    browser = Client()
    browser.cookies = response.cookies
    assert _learner_page(browser).status_code == 200
    assert browser.get("/")["Location"].startswith("/accounts/login/")
    assert not User.objects.filter(email="yu@moe.example").exists()
    assert AuditEntry.objects.filter(action="sso.learner_login").count() == 1
    assert not SamlRequest.objects.exists()
    replay = Client().post("/sso/moe-saml/saml/acs/", response.posted)
    assert (
        replay.status_code == 403
        and AuditEntry.objects.filter(action="sso.login_refused").get().changes["reason"]
        == "invalid_response"
    )


def test_saml_unknown_learner_is_refused_and_a_staff_request_stays_staff(
    saml_idp: Any, learner: Learner
) -> None:
    idp, _provider = saml_idp
    idp.users["x"] = saml_user("x-1", "x@moe.example", ["moe-staff"])
    refused = saml_learner_sign_in(idp, "x")
    assert refused.status_code == 403 and UNKNOWN in refused.content.decode()
    assert not User.objects.filter(email="x@moe.example").exists()
    # The same person through the staff flow becomes a platform user, not a learner.
    client = Client()
    idp.signed_in = "x"
    start = client.get("/sso/moe-saml/")
    action, fields = posted_form(requests.get(start["Location"], timeout=10).text)
    staff = client.post(urlsplit(action).path, fields)
    assert staff.status_code == 302 and staff["Location"] == "/"
    assert User.objects.filter(email="x@moe.example").exists()
    assert _learner_page(client)["Location"].startswith("/training/learn/sign-in/")


def test_an_address_the_provider_gives_to_someone_else_does_not_sign_them_in(
    oidc_idp: Any, learner: Learner, admin: User, agency: Organisation
) -> None:
    idp, _provider = oidc_idp
    idp.users["yu"] = {"sub": "yu-1", "email": "yu@moe.example", "org": "MOE"}
    first = oidc_learner_sign_in(idp, "yu")
    assert first.status_code == 302, refusals()
    learner.refresh_from_db()
    assert learner.sso_subject == "yu-1" and learner.sso_issuer
    bound = AuditEntry.objects.get(action="sso.learner_login")
    assert bound.changes["bound"] is True
    # The same person again: signed in, nothing re-bound.
    assert oidc_learner_sign_in(idp, "yu").status_code == 302
    assert "bound" not in AuditEntry.objects.filter(action="sso.learner_login").latest("pk").changes
    # The provider hands the address to a new account (another subject): refused.
    idp.users["newcomer"] = {"sub": "yu-2", "email": "yu@moe.example", "org": "MOE"}
    other = oidc_learner_sign_in(idp, "newcomer")
    assert other.status_code == 403
    assert "another person than at your first sign-in" in other.content.decode()
    assert _learner_page(other.client)["Location"].startswith("/training/learn/sign-in/")
    refused = AuditEntry.objects.filter(action="sso.login_refused").latest("pk")
    assert refused.changes["reason"] == "learner_identity_changed"
    assert refused.changes["subject"] == "yu-2" and refused.changes["flow"] == "learner"
    learner.refresh_from_db()
    assert learner.sso_subject == "yu-1"
    # The agency changes the learner's address: the bound identity no longer applies.
    training.add_learner(
        admin, agency, staff_id="M-7", name="Lai Yu", email="lai.yu@moe.example", role="general"
    )
    learner.refresh_from_db()
    assert learner.email == "lai.yu@moe.example" and learner.sso_subject == ""
    idp.users["lai"] = {"sub": "yu-3", "email": "lai.yu@moe.example", "org": "MOE"}
    assert oidc_learner_sign_in(idp, "lai").status_code == 302, refusals()
    learner.refresh_from_db()
    assert learner.sso_subject == "yu-3"
