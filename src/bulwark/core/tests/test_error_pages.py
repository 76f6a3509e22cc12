"""Error pages (issue 18): a 404, 403 and CSRF failure are pages of the platform with a way
back, not bare text."""

from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency.models import User


def test_not_found_and_forbidden_pages_lead_back(platform_admin: User) -> None:
    anonymous = Client()
    missing = anonymous.get("/no-such-page/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert "Page not found" in page and 'id="error-home"' in page and 'href="/"' in page


def test_a_form_sent_without_its_csrf_token_explains_itself(platform_admin: User) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in(client, platform_admin)
    refused = client.post("/accounts/logout/")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "The form has expired" in page and 'id="error-home"' in page


def test_a_forbidden_action_is_a_page_with_a_way_back(platform_admin: User) -> None:
    client = Client()
    sign_in(client, platform_admin)
    refused = client.post("/incidents/1/no-such-action/")
    assert refused.status_code in (403, 404)
    assert 'id="error-home"' in refused.content.decode()
