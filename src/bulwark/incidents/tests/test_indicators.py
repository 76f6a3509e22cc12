"""Indicators typed with an incident: defanged spellings are read (issue 18) and an IPv6
URL keeps its brackets (issue 21)."""

import pytest

from bulwark.incidents.indicators import InvalidIndicator, parse_lines


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
