"""Indicators typed with an incident: defanged spellings are read (issue 18) and an IPv6
URL keeps its brackets (issue 21)."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from bulwark.constituency.models import User
from bulwark.core.observables import InvalidIndicator
from bulwark.incidents.indicators import parse_lines
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import IncidentIndicator
from bulwark.incidents.services import report_incident
from bulwark.incidents.tests.test_journey import People


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hxxp://evil[.]example/login", ("url", "http://evil.example/login")),
        ("hXXps://evil[.]example:8443/a", ("url", "https://evil.example:8443/a")),
        ("evil[.]example", ("domain", "evil.example")),
        ("evil(.)example", ("domain", "evil.example")),
        ("203.0.113[.]7", ("ipv4", "203.0.113.7")),
        ("phisher[@]evil[.]example", ("email", "phisher@evil.example")),
        # Valid as typed: never rewritten, brackets and all.
        ("http://example.org/a[.]b", ("url", "http://example.org/a[.]b")),
        ("http://[2001:db8::1]:8080/x", ("url", "http://[2001:db8::1]:8080/x")),
        ("https://[2001:DB8::1]/", ("url", "https://[2001:db8::1]/")),
    ],
)
def test_defanged_and_bracketed_values(typed: str, expected: tuple[str, str]) -> None:
    assert parse_lines(typed) == [expected]


def test_a_value_wrong_however_read_names_its_line() -> None:
    with pytest.raises(InvalidIndicator, match="line 2"):
        parse_lines("evil[.]example\nhxxp://[.]")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # The same form intel stores and monitoring matches (issue 21).
        ("Phisher@Evil.Example", ("email", "phisher@evil.example")),
        ("http://evil.example:80/a/./%7Eb", ("url", "http://evil.example/a/~b")),
    ],
)
def test_indicators_take_the_one_canonical_form(typed: str, expected: tuple[str, str]) -> None:
    assert parse_lines(typed) == [expected]


def test_prefixes_and_as_numbers_are_not_an_incidents_indicators() -> None:
    with pytest.raises(InvalidIndicator, match="line 1"):
        parse_lines("10.0.0.0/8")
    with pytest.raises(InvalidIndicator, match="line 1"):
        parse_lines("AS3462")


def test_the_migration_merges_indicators_that_become_equal(db: None) -> None:
    people = People()
    incident = report_incident(
        User.objects.get(username="reporter"), people.agency, title="Phish", description="d",
        rsit_class="fraud", rsit_type="phishing", answers=Answers(),
        aware_at=timezone.now() - timedelta(minutes=10),
        indicators=[("email", "phisher@evil.example"), ("email", "other@evil.example")],
    )  # fmt: skip
    rows = IncidentIndicator.objects.filter(incident=incident)
    rows.filter(value="phisher@evil.example").update(tags="c2")
    rows.filter(value="other@evil.example").update(value="Phisher@evil.example", tags="kit")
    url = IncidentIndicator.objects.create(
        incident=incident, kind="url", value="http://evil.example:80/x/../%7Ey"
    )
    import_module("bulwark.incidents.migrations.0012_s28h1_renormalise").renormalise(
        django_apps, None
    )
    assert list(rows.filter(kind="email").values_list("value", "tags")) == [
        ("phisher@evil.example", "c2 kit")
    ]
    assert IncidentIndicator.objects.get(pk=url.pk).value == "http://evil.example/~y"
