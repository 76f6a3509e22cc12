"""A portal's CSV column mapping saved and chosen on the records import page, with a
preview of the first rows and their errors; a learner asking for their own sign-in link
(the answer never tells whether the address is a learner's; requests are throttled) and an
agency resetting a learner's password."""

import re
from typing import Any

import pytest
from django.test import Client, override_settings

from bulwark.conftest import run_queued_tasks, sign_in
from bulwark.training import services
from bulwark.training.models import PortalMapping, SignInLink, TrainingRecord
from bulwark.training.tests.conftest import World

# The export of an imaginary portal: Chinese column names, its own kind labels.
PORTAL_CSV = (
    "身分證字號,電子郵件,課程名稱,完成日期,時數,類別,編號\n"
    "x,mei@agency-a.gov,資安通識,2026-03-02,2,通識,P-1\n"
    "x,mei@agency-a.gov,資安專業,2026/04/01,3,專業課程,P-2\n"
    "x,nobody@agency-a.gov,資安通識,2026-03-02,2,通識,P-3\n"
    "x,mei@agency-a.gov,資安通識,soon,2,通識,P-4\n"
)
MAPPING = {
    "map-name": "Portal X",
    "map-email": "電子郵件",
    "map-staff_id": "",
    "map-title": "課程名稱",
    "map-date": "完成日期",
    "map-hours": "時數",
    "map-kind": "類別",
    "map-provider": "",
    "map-record_id": "編號",
    "map-professional": "專業課程",
    "map-general": "通識",
}


def test_an_agency_saves_a_mapping_previews_and_imports(world: World) -> None:
    client = sign_in(Client(), world.agency_admin)
    page = "/training/records/import/"
    assert client.get(page).status_code == 200
    saved = client.post(page, {"what": "save-mapping", "organisation": world.agency.pk, **MAPPING})
    assert saved.status_code == 302
    mapping = PortalMapping.objects.get(organisation=world.agency)
    shown = client.get(page, {"organisation": world.agency.pk, "mapping": mapping.pk})
    assert 'value="課程名稱"' in shown.content.decode()  # the chosen mapping's columns
    form = {"organisation": world.agency.pk, "mapping": mapping.pk, "csv": PORTAL_CSV}
    preview = client.post(page, {**form, "what": "preview"})
    text = preview.content.decode()
    assert preview.status_code == 200 and "Lin Mei" in text
    assert "No learner of this agency" in text and "soon is not a date" in text
    assert TrainingRecord.objects.count() == 0  # a preview writes nothing
    # Without the mapping the file's columns are not found.
    default = client.post(page, {**form, "mapping": "", "what": "preview"})
    assert default.status_code == 400 and "Missing columns" in default.content.decode()
    imported = client.post(page, {**form, "what": "import"})
    assert "2 records imported" in imported.content.decode()
    kinds = set(TrainingRecord.objects.values_list("kind", "hours"))
    assert {(k, str(h)) for k, h in kinds} == {("general", "2.0"), ("professional", "3.0")}
    again = client.post(page, {**form, "what": "import"})
    assert "0 records imported, 2 already there" in again.content.decode()
    # Another agency neither sees nor uses this mapping.
    other = sign_in(Client(), world.sibling_admin)
    answer = other.get(page, {"organisation": world.agency.pk, "mapping": mapping.pk})
    assert "Portal X" not in answer.content.decode()
    assert sign_in(Client(), world.authority_admin).get(page).status_code == 200
    # A mapping without a learner column is refused with a reason.
    bad = client.post(
        page,
        {"what": "save-mapping", "organisation": world.agency.pk, **MAPPING, "map-email": ""},
    )
    assert bad.status_code == 400 and "e-mail column or the staff number" in bad.content.decode()


@pytest.mark.parametrize(
    ("who", "sees"),
    [("analyst", 1), ("agency_admin", 1), ("authority_admin", 1), ("sibling_admin", 0),
     ("stranger_admin", 0)],
)  # fmt: skip
def test_visibility_of_saved_mappings(world: World, who: str, sees: int) -> None:
    from bulwark.training import selectors

    services.save_mapping(world.agency_admin, world.agency, "portal", email="mail", title="t",
                          date="d", hours="h", kind="k")  # fmt: skip
    assert selectors.mappings(getattr(world, who)).count() == sees


def _ask(client: Client, email: str) -> str:
    response = client.post("/training/learn/link/", {"email": email})
    assert response.status_code == 200
    return response.content.decode()


@override_settings(RESET_MAIL_LIMIT=2)
def test_a_learner_asks_for_a_link_and_the_answer_reveals_nothing(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    assert "Forgot your password" in client.get("/training/learn/sign-in/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        known = _ask(client, "Mei@agency-a.gov")
        unknown = _ask(client, "nobody@agency-a.gov")
    run_queued_tasks()
    strip = re.compile(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"')
    assert strip.sub("", known) == strip.sub("", unknown)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["mei@agency-a.gov"]
    url = re.search(r"http\S+/training/learn/link/\S+/", mailoutbox[0].body)
    assert url is not None
    path = re.sub(r"^https?://[^/]+", "", url.group(0))
    assert Client().post(path).status_code == 302
    # At most RESET_MAIL_LIMIT links an hour reach one learner, whatever is asked.
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            _ask(Client(), "mei@agency-a.gov")
    assert SignInLink.objects.filter(learner=world.learner).count() == 2


def test_requests_from_one_address_are_throttled(world: World) -> None:
    for n in range(5):
        _ask(Client(), f"someone{n}@agency-a.gov")  # counted per address asked and per client
    for _ in range(6):
        _ask(Client(), "mei@agency-a.gov")
    assert SignInLink.objects.filter(learner=world.learner).count() <= 3


def test_an_agency_resets_a_learners_password(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    learner_client = Client()
    learner_client.post(
        "/training/learn/sign-in/", {"email": "mei@agency-a.gov", "password": "learner-pass-123"}
    )
    assert learner_client.get("/training/learn/").status_code == 200
    admin = sign_in(Client(), world.agency_admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin.post(
            f"/training/learners/{world.learner.pk}/link/", {"reset": "1"}, follow=True
        )
    run_queued_tasks()
    assert "password of Lin Mei is removed" in answer.content.decode()
    assert learner_client.get("/training/learn/").status_code == 302  # the session ended
    refused = Client().post(
        "/training/learn/sign-in/", {"email": "mei@agency-a.gov", "password": "learner-pass-123"}
    )
    assert refused.status_code == 400
    assert "mei@agency-a.gov" in mailoutbox[-1].to
    other = sign_in(Client(), world.sibling_admin)
    assert (
        other.post(f"/training/learners/{world.learner.pk}/link/", {"reset": "1"}).status_code
        == 404
    )
