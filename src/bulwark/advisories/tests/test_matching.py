"""The pure product matcher: CPE 2.3 parsing and version ranges."""

import pytest

from bulwark.advisories.matching import (
    AffectedProduct,
    InvalidProduct,
    Product,
    matches,
    parse_cpe,
)

HTTPD = AffectedProduct("example", "httpd", ">=2.4.0,<2.4.60")


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("2.4.0", True),
        ("2.4.59", True),
        ("2.4.60", False),
        ("2.3.9", False),
        ("2.10", False),
        ("2.4.58-ubuntu1", True),
        ("v2.4.1", True),
        ("2.4.59rc1", True),
        ("2.4.60rc1", False),
        ("", True),
        ("unknown", True),
        ("3.0", False),
    ],
)
def test_version_ranges(version: str, hit: bool) -> None:
    assert matches(Product("example", "httpd", version), HTTPD)[0] is hit


def test_other_products_never_match() -> None:
    assert not matches(Product("example", "httpd2", "2.4.1"), HTTPD)[0]
    assert not matches(Product("other", "httpd", "2.4.1"), HTTPD)[0]


def test_all_versions_and_reason() -> None:
    hit, why = matches(Product("example", "httpd", "1.0"), AffectedProduct("example", "httpd"))
    assert hit and "all versions" in why
    assert "2.4.5 in >=2.4.0,<2.4.60" in matches(Product("example", "httpd", "2.4.5"), HTTPD)[1]


def test_parse_cpe() -> None:
    assert parse_cpe("cpe:2.3:a:example:httpd:2.4.1:*:*:*:*:*:*:*") == Product(
        "example", "httpd", "2.4.1"
    )
    # An escaped character stays inside its field; "*" means any version.
    assert parse_cpe("cpe:2.3:a:nodejs:node\\.js:*:*:*:*:*:*:*:*") == Product(
        "nodejs", "node.js", ""
    )


@pytest.mark.parametrize(
    "bad",
    [
        "cpe:/a:example:httpd:2.4",
        "cpe:2.3:a:example",
        "cpe:2.3:x:example:httpd:1:*:*:*:*:*:*:*",
        "cpe:2.3:a:*:httpd:1:*:*:*:*:*:*:*",
        "not a cpe",
        "cpe:2.3:a:ex ample:<script>:1:*:*:*:*:*:*:*",
    ],
)
def test_bad_cpe_refused(bad: str) -> None:
    with pytest.raises(InvalidProduct):
        parse_cpe(bad)
