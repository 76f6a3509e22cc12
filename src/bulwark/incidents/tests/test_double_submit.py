"""A button pressed twice (or after a colleague pressed it) is refused on the case page
with the workflow's reason, never a server error."""

import pytest
from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import User
from bulwark.incidents import demo
from bulwark.incidents.models import Incident


@pytest.mark.django_db
def test_starting_the_response_twice_is_told_not_a_500() -> None:
    constituency_demo.load()
    demo.load()
    incident = Incident.objects.filter(status="responding").first()
    assert incident is not None
    client = sign_in(Client(), User.objects.get(username="duty"))
    answer = client.post(f"/incidents/{incident.pk}/respond/", follow=True)
    assert answer.redirect_chain == [(f"/incidents/{incident.pk}/", 302)]
    told = [str(m) for m in answer.context["messages"]]
    assert len(told) == 1 and "not possible while the incident is responding" in told[0]
    incident.refresh_from_db()
    assert incident.status == "responding"
