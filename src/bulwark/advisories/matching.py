"""Which products an advisory affects and whether an inventory item is one of them.

Pure module (no Django): CPE 2.3 formatted-string parsing and version-range matching with
`packaging`. An affected product is vendor + product + an optional version range written
as a PEP 440 specifier set (">=2.4.0,<2.4.60", "==1.2.3"); an empty range means every
version. Versions that are not PEP 440 are compared on their leading numeric part
("2.4.58-ubuntu1" as 2.4.58); an inventory item without a usable version matches (the
agency is told rather than missed), and says so in the reason.
"""

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

CPE_PREFIX = "cpe:2.3:"
_UNESCAPED_COLON = re.compile(r"(?<!\\):")
_NUMERIC_HEAD = re.compile(r"^v?(\d+(?:\.\d+)*)")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._\-~!+]*$")


class InvalidProduct(ValueError):
    pass


@dataclass(frozen=True)
class Product:
    vendor: str
    product: str
    version: str = ""  # "" when unknown or any


@dataclass(frozen=True)
class AffectedProduct:
    vendor: str
    product: str
    versions: str = ""  # PEP 440 specifier set; "" means every version


def normalise_name(value: str) -> str:
    """CPE style: lower case, spaces as underscores."""
    name = "_".join(value.strip().lower().split())
    if not name or len(name) > 100:
        raise InvalidProduct(f"a vendor or product name is needed (1-100 characters): {value!r}")
    if not _NAME.match(name):
        raise InvalidProduct(f"unexpected characters in the name {value!r}")
    return name


def parse_cpe(cpe: str) -> Product:
    """A CPE 2.3 formatted string: cpe:2.3:part:vendor:product:version:... (13 fields)."""
    text = cpe.strip()
    if not text.lower().startswith(CPE_PREFIX):
        raise InvalidProduct(f"a CPE 2.3 name starts with {CPE_PREFIX!r}: {cpe[:80]!r}")
    fields = _UNESCAPED_COLON.split(text)
    if len(fields) != 13:
        raise InvalidProduct(f"a CPE 2.3 name has 13 colon-separated fields, not {len(fields)}")
    part, vendor, product, version = fields[2], fields[3], fields[4], fields[5]
    if part not in {"a", "o", "h", "*", "-"}:
        raise InvalidProduct(f"CPE part must be a, o or h, not {part!r}")
    if vendor in {"*", "-", ""} or product in {"*", "-", ""}:
        raise InvalidProduct("a CPE name for an inventory needs a vendor and a product")

    def unescape(s: str) -> str:
        return s.replace("\\", "")

    version = "" if version in {"*", "-"} else unescape(version)
    return Product(normalise_name(unescape(vendor)), normalise_name(unescape(product)), version)


def parse_range(versions: str) -> SpecifierSet:
    try:
        return SpecifierSet(versions.strip())
    except InvalidSpecifier:
        raise InvalidProduct(
            f"version range {versions[:80]!r} is not a PEP 440 range such as '>=2.4.0,<2.4.60'"
        ) from None


def comparable(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        head = _NUMERIC_HEAD.match(version.strip())
        return Version(head.group(1)) if head else None


def matches(item: Product, affected: AffectedProduct) -> tuple[bool, str]:
    """Whether the inventory item is affected, and why (shown in the preview)."""
    if (item.vendor, item.product) != (affected.vendor, affected.product):
        return False, ""
    label = f"{item.vendor}:{item.product}"
    if not affected.versions.strip():
        return True, f"{label} (all versions affected)"
    version = comparable(item.version) if item.version else None
    if version is None:
        return True, f"{label} (version unknown)"
    if parse_range(affected.versions).contains(version, prereleases=True):
        return True, f"{label} {item.version} in {affected.versions}"
    return False, ""
