"""Competitions: registration, results from CTFd's own export format, certificates and
figures, and who sees which participants."""

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from bulwark.conftest import sign_in
from bulwark.training import selectors, services
from bulwark.training.engine import ctfd
from bulwark.training.models import Certificate, Competition, CompetitionResult, Participant
from bulwark.training.tests.conftest import World

CORPUS = Path(__file__).parent / "corpus" / "ctfd" / "users_mode"


def export_zip(folder: Path = CORPUS, **replace: bytes) -> bytes:
    """The folder zipped as CTFd's exporter writes it (db/<table>.json)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((folder / "db").glob("*.json")):
            name = f"db/{path.name}"
            archive.writestr(name, replace.get(path.stem, path.read_bytes()))
    return buffer.getvalue()


def test_the_standings_are_ctfds() -> None:
    standings = ctfd.read_export(export_zip())
    assert standings.ctf_name == "Cyber Defence Cup 2026" and not standings.team_mode
    table = [(a.rank, a.name, a.score, a.solves) for a in standings.accounts]
    assert table == [
        (1, "hsu", 600, 3),
        (2, "kao", 550, 3),  # a -50 hint penalty
        (3, "lin", 200, 1),  # the hidden challenge does not count; reached 200 before chang
        (4, "chang", 200, 1),
        (5, "walk-in", 0, 0),
    ]  # the hidden admin and the banned user are left out


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip", "not a zip"),
        (export_zip(users=b"{oops"), "not JSON"),
        (export_zip(users=b'{"count": 1, "results": 5}'), "no list of results"),
    ],
)
def test_broken_exports_are_named(data: bytes, message: str) -> None:
    with pytest.raises(ctfd.ExportError, match=message):
        ctfd.read_export(data)
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ctfd.ExportError, match="missing"):
        ctfd.read_export(empty.getvalue())


@pytest.fixture
def cup(world: World) -> Competition:
    now = timezone.now()
    competition = services.create_competition(
        world.analyst, world.cert, slug="cup-2026", name="Cyber Defence Cup 2026",
        name_zh_hant="資安盃 2026", starts_at=now - timedelta(days=30),
        ends_at=now - timedelta(days=29), registration_open=True,
    )  # fmt: skip
    services.register_participant(competition, name="Hsu", email="hsu@school-1.edu.tw",
                                  category="school", school="Taipei First Girls High School",
                                  region="Taipei")  # fmt: skip
    services.register_participant(competition, name="Kao", email="kao@agency-a.gov.tw",
                                  category="agency", organisation=world.agency,
                                  region="Taipei")  # fmt: skip
    services.register_participant(competition, name="Chang", email="chang@school-2.edu.tw",
                                  category="school", school="Hsinchu Senior High School",
                                  region="Hsinchu")  # fmt: skip
    return competition


def test_registration_rules(cup: Competition) -> None:
    with pytest.raises(services.TrainingError, match="registered already"):
        services.register_participant(cup, name="Hsu", email="HSU@school-1.edu.tw",
                                      category="school", school="X")  # fmt: skip
    with pytest.raises(services.TrainingError, match="school"):
        services.register_participant(cup, name="A", email="a@b.tw", category="school")
    Competition.objects.filter(pk=cup.pk).update(registration_open=False)
    cup.refresh_from_db()
    with pytest.raises(services.TrainingError, match="closed"):
        services.register_participant(cup, name="B", email="b@b.tw", category="public")


def test_importing_results_matches_people_and_issues_certificates(
    world: World, cup: Competition
) -> None:
    with pytest.raises(PermissionDenied):
        services.import_ctfd_results(world.agency_admin, cup, export_zip())
    summary = services.import_ctfd_results(world.analyst, cup, export_zip())
    assert summary.results == 5 and sorted(summary.unmatched) == ["lin", "walk-in"]
    assert summary.certificates == 3
    kao = CompetitionResult.objects.get(competition=cup, name="kao")
    assert (kao.rank, kao.score, kao.participant.name) == (2, 550, "Kao")
    again = services.import_ctfd_results(world.analyst, cup, export_zip())
    assert again.results == 5 and again.certificates == 0
    assert CompetitionResult.objects.filter(competition=cup).count() == 5
    assert Certificate.objects.filter(participant__competition=cup).count() == 3
    with pytest.raises(services.TrainingError, match="not a zip"):
        services.import_ctfd_results(world.analyst, cup, b"PK nonsense")


def test_figures_and_results_by_viewer(world: World, cup: Competition) -> None:
    services.import_ctfd_results(world.analyst, cup, export_zip())
    figures = selectors.competition_figures(world.analyst, cup)
    assert dict(figures["category"]) == {"school": 2, "agency": 1}
    assert dict(figures["region"]) == {"Taipei": 2, "Hsinchu": 1}
    assert len(figures["school"]) == 2
    # An agency sees its own people only; another agency none.
    assert [r.name for r in selectors.results(world.agency_admin, cup)] == ["kao"]
    assert list(selectors.results(world.sibling_admin, cup)) == []
    assert Participant.objects.visible_to(world.sibling_admin).count() == 0
    page = sign_in(Client(), world.agency_admin).get("/training/competitions/cup-2026/")
    text = page.content.decode()
    assert page.status_code == 200 and "kao" in text and "hsu" not in text


def test_the_public_registration_page(cup: Competition, **_: Any) -> None:
    client = Client()
    assert client.get("/training/competitions/cup-2026/register/").status_code == 200
    bad = client.post("/training/competitions/cup-2026/register/",
                      {"name": "X", "email": "nope", "category": "public"})  # fmt: skip
    assert bad.status_code == 400 and "not an e-mail" in bad.content.decode()
    ok = client.post("/training/competitions/cup-2026/register/",
                     {"name": "New", "email": "new@x.tw", "category": "public"})  # fmt: skip
    assert ok.status_code == 200 and Participant.objects.filter(email="new@x.tw").exists()


def test_public_registration_is_throttled_per_address_and_per_email(
    cup: Competition, settings: Any
) -> None:
    """A script cannot fill a competition with registrations nor hammer one address: after
    5 requests for one e-mail, or 20 from one client address, in 15 minutes, the form
    answers a clear message and registers nobody; a platform sign-in from that address is
    not blocked by it."""
    from bulwark.constituency import throttle

    url = "/training/competitions/cup-2026/register/"
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _n in range(5):  # the same address tried again and again (already registered)
        client.post(url, {"name": "Hsu", "email": "hsu@school-1.edu.tw", "category": "public"})
    again = Client(REMOTE_ADDR="198.51.100.9").post(
        url, {"name": "Hsu", "email": "hsu@school-1.edu.tw", "category": "public"}
    )
    assert again.status_code == 400 and "Too many registrations" in again.content.decode()
    for n in range(15):  # 5 + 15 = 20 from one address, all answered
        ok = client.post(url, {"name": f"P{n}", "email": f"p{n}@x.tw", "category": "public"})
        assert ok.status_code == 200, ok.content.decode()[:300]
    refused = client.post(url, {"name": "Late", "email": "late@x.tw", "category": "public"})
    assert refused.status_code == 400 and "Try again in 15 minutes" in refused.content.decode()
    assert not Participant.objects.filter(email="late@x.tw").exists()
    other = Client(REMOTE_ADDR="192.0.2.1").post(
        url, {"name": "Other", "email": "other@x.tw", "category": "public"}
    )
    assert other.status_code == 200 and Participant.objects.filter(email="other@x.tw").exists()
    assert not throttle.is_blocked("someone", "203.0.113.7")  # sign-ins stay open
