"""IntelMQ's harmonised event fields and their value types, and the checks IntelMQ makes
when a parser adds a value (our own code; the field list is data, checked against
IntelMQ's `harmonization.conf` in tests/corpus/intelmq/).

`sanitize(field, value)` gives the value in the field's canonical form or raises
`BadValue`: a Shadowserver optional column whose value does not fit goes to `extra.`
under its column name, as IntelMQ does.
"""

import ipaddress
import re
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# field -> IntelMQ harmonisation type (intelmq/etc/harmonization.conf, "event")
FIELD_TYPES: dict[str, str] = {
    "classification.identifier": "String", "classification.taxonomy": "ClassificationTaxonomy",
    "classification.type": "ClassificationType", "comment": "String",
    "destination.abuse_contact": "LowercaseString", "destination.account": "String",
    "destination.allocated": "DateTime", "destination.as_name": "String",
    "destination.asn": "ASN", "destination.domain_suffix": "FQDN", "destination.fqdn": "FQDN",
    "destination.geolocation.cc": "UppercaseString", "destination.geolocation.city": "String",
    "destination.geolocation.country": "String", "destination.geolocation.latitude": "Float",
    "destination.geolocation.longitude": "Float", "destination.geolocation.region": "String",
    "destination.geolocation.state": "String", "destination.ip": "IPAddress",
    "destination.local_hostname": "String", "destination.local_ip": "IPAddress",
    "destination.network": "IPNetwork", "destination.port": "Integer",
    "destination.registry": "Registry", "destination.reverse_dns": "FQDN",
    "destination.tor_node": "Boolean", "destination.url": "URL", "destination.urlpath": "String",
    "event_description.target": "String", "event_description.text": "String",
    "event_description.url": "URL", "event_hash": "UppercaseString", "extra": "JSONDict",
    "feed.accuracy": "Accuracy", "feed.code": "String", "feed.documentation": "String",
    "feed.name": "String", "feed.provider": "String", "feed.url": "URL",
    "malware.hash.md5": "String", "malware.hash.sha1": "String", "malware.hash.sha256": "String",
    "malware.name": "LowercaseString", "malware.version": "String",
    "misp.attribute_uuid": "LowercaseString", "misp.event_uuid": "LowercaseString",
    "output": "JSON", "protocol.application": "LowercaseString",
    "protocol.transport": "LowercaseString", "raw": "Base64", "rtir_id": "Integer",
    "screenshot_url": "URL", "source.abuse_contact": "LowercaseString",
    "source.account": "String", "source.allocated": "DateTime", "source.as_name": "String",
    "source.asn": "ASN", "source.domain_suffix": "FQDN", "source.fqdn": "FQDN",
    "source.geolocation.cc": "UppercaseString", "source.geolocation.city": "String",
    "source.geolocation.country": "String", "source.geolocation.cymru_cc": "UppercaseString",
    "source.geolocation.geoip_cc": "UppercaseString", "source.geolocation.latitude": "Float",
    "source.geolocation.longitude": "Float", "source.geolocation.region": "String",
    "source.geolocation.state": "String", "source.ip": "IPAddress",
    "source.local_hostname": "String", "source.local_ip": "IPAddress",
    "source.network": "IPNetwork", "source.port": "Integer", "source.registry": "Registry",
    "source.reverse_dns": "FQDN", "source.tor_node": "Boolean", "source.url": "URL",
    "source.urlpath": "String", "status": "String", "time.observation": "DateTime",
    "time.source": "DateTime", "tlp": "TLP",
}  # fmt: skip
# Fields IntelMQ 3.4 added for Shadowserver's schema (severity, product), which Bulwark
# already knew (product.*): harmonised here too, so they are not pushed under extra.
NEWER_FIELDS: dict[str, str] = {
    "severity": "LowercaseString", "product.name": "String", "product.product": "String",
    "product.vendor": "String", "product.version": "String",
    "product.vulnerabilities": "LowercaseString",
}  # fmt: skip
TYPES: dict[str, str] = {**FIELD_TYPES, **NEWER_FIELDS}
EVENT_FIELDS = frozenset(k for k in TYPES if k not in ("extra", "raw", "output"))
IGNORED = ("", "-", "N/A")  # IntelMQ's Message.add skips these values (nothing added)


class BadValue(ValueError):
    """The value does not fit the field's type."""


def text(value: Any) -> str:
    text = value if type(value) is str else str(value)
    if not text:
        raise BadValue("empty")
    return text


def _integer(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise BadValue("not an integer")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise BadValue("not an integer") from None
        if not number.is_integer():
            raise BadValue("not an integer") from None
        return int(number)


def _asn(value: Any) -> int:
    number = _integer(value)
    if not 0 < number <= 4294967295:
        raise BadValue("not an AS number")
    return number


def _port(value: Any) -> int:
    number = _integer(value)
    if not 0 <= number <= 65535:
        raise BadValue("not a port")
    return number


def _float(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool):
        raise BadValue("not a number")
    try:
        return float(str(value).strip())
    except ValueError:
        raise BadValue("not a number") from None


def _boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise BadValue("not a boolean")


def ip_address(value: Any) -> str:
    text = str(value).strip()
    try:
        socket.inet_pton(socket.AF_INET, text)
        return text
    except OSError:
        pass
    try:
        address = ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        raise BadValue("not an IP address") from None
    return str(address)


def _network(value: Any) -> str:
    try:
        return str(ipaddress.ip_network(str(value).strip(), strict=False))
    except ValueError:
        raise BadValue("not an IP network") from None


_LABEL = re.compile(r"\A(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


def _fqdn(value: Any) -> str:
    text = str(value).strip().rstrip(".").lower()
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadValue("not a domain name") from None
    if not text or len(text) > 253 or not all(_LABEL.match(p) for p in text.split(".")):
        raise BadValue("not a domain name")
    if text.replace(".", "").isdigit():
        raise BadValue("an IP address, not a domain name")
    return text


_URL = re.compile(r"\A[a-z][a-z0-9+.-]*://[^/?#\s]+", re.I)


def _url(value: Any) -> str:
    text = str(value).strip()
    if text.startswith("hxxp"):
        text = "http" + text[4:]
    if "://" not in text and text[:1] not in ("/", "?", "#") and "." in text.split("/")[0]:
        text = "http://" + text  # a host with a path but no scheme, as IntelMQ reads it
    if not _URL.match(text):
        raise BadValue("not an absolute URL")
    return text


_TIMES: dict[str, str] = {}


def parse_time(value: Any, assume_utc: bool = True) -> str:
    """ISO 8601 with +00:00 for Shadowserver's and IntelMQ's spellings of a time."""
    text = str(value).strip()
    found = _TIMES.get(text)
    if found is not None:
        return found
    candidate = text
    if candidate.endswith(" UTC"):
        candidate = candidate[:-4]
    elif candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        try:  # RFC 1123, as in HTTP Date headers: "Mon, 10 Jan 2022 00:01:44 GMT"
            moment = parsedate_to_datetime(candidate)
        except (TypeError, ValueError, IndexError):
            raise BadValue("not a time") from None
    if moment.tzinfo is None:
        if not assume_utc:
            raise BadValue("a time without time zone")
        moment = moment.replace(tzinfo=UTC)
    result = moment.astimezone(UTC).isoformat()
    if len(_TIMES) >= 65536:
        _TIMES.clear()
    _TIMES[text] = result
    return result


def _lower(value: Any) -> str:
    return text(value).lower()


def _upper(value: Any) -> str:
    return text(value).upper()


_BY_TYPE = {
    "String": text, "LowercaseString": _lower, "UppercaseString": _upper,
    "Integer": _integer, "ASN": _asn, "Float": _float, "Boolean": _boolean,
    "IPAddress": ip_address, "IPNetwork": _network, "FQDN": _fqdn, "URL": _url,
    "DateTime": parse_time, "ClassificationType": _lower, "ClassificationTaxonomy": _lower,
    "Registry": _upper, "TLP": _upper, "Accuracy": _float,
}  # fmt: skip


def checker(field: str) -> Any:
    """The function that sanitises a value for `field`, or None if it is not harmonised."""
    kind = TYPES.get(field)
    if kind is None:
        return None
    if field.endswith(".port"):
        return _port
    return _BY_TYPE.get(kind, text)


def sanitize(field: str, value: Any) -> Any:
    check = checker(field)
    if check is None:
        raise KeyError(field)
    return check(value)
