"""Observable values: their kinds, their one canonical form and kind detection, for every
app (intel stores, incidents keep, monitoring matches; issue 21). Pure module (no Django).

Two faces of the same rules (docs/architecture.md, "Observable normal form"):

- bytes (`domain`, `address`, `url`, `email`, `file_hash`, `host`, `detect_kind`): the
  monitoring engine's hot path. Logs are bytes; decoding every field would cost more than
  matching it. They return None for a value that cannot be of that kind.
- str (`detect`, `normalise`, `detected`): what intel and incidents store. These check the
  value strictly and say why they refuse it (`InvalidIndicator`); the canonical text of a
  value they accept is computed by the bytes functions, so an indicator stored by intel
  and the same value seen in a log are equal byte for byte
  (core/tests/test_observables.py checks this on generated values).
"""

import ipaddress
import re
from urllib.parse import urlsplit

import idna

MAX_VALUE = 4096
_HEX = frozenset(b"0123456789abcdef")
_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
_V4_CHARS = frozenset(b"0123456789.")
_LABEL = re.compile(rb"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(rb"%([0-9A-Fa-f]{2})")
_DEFANG = ((b"[.]", b"."), (b"(.)", b"."), (b"[dot]", b"."), (b"[@]", b"@"), (b"[:]", b":"))


def refang(value: bytes) -> bytes:
    """Undo the usual defanging of shared indicators (hxxp, [.], [@])."""
    for old, new in _DEFANG:
        if old in value:
            value = value.replace(old, new)
    if value[:4].lower() == b"hxxp":
        value = b"http" + value[4:]
    return value


def domain(raw: bytes) -> bytes | None:
    """Lower-case A-label form without a trailing dot, or None."""
    if len(raw) > MAX_VALUE:
        return None
    value = raw.lower().rstrip(b".")
    if not value:
        return None
    if not value.isascii():
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
        try:
            value = idna.encode(text, uts46=True).lower()
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                value = text.encode("idna").lower()
            except (UnicodeError, ValueError):
                return None
    return value


def valid_domain(value: bytes) -> bool:
    """Strict enough to refuse indicator lines that are not domain names."""
    return (
        0 < len(value) <= 253
        and b"." in value
        and all(_LABEL.fullmatch(label) for label in value.split(b"."))
        and not value.replace(b".", b"").isdigit()
    )


def address(raw: bytes) -> bytes | None:
    """Canonical text of an IPv4/IPv6 address (compressed, lower case), or None.

    Dotted quads from logs are already canonical in almost all cases; the fast test keeps
    them off the ipaddress module."""
    if not raw or len(raw) > 64:
        return None
    if raw[0] == 91 and raw[-1] == 93:  # [v6]
        raw = raw[1:-1]
    if _V4_CHARS.issuperset(raw):
        parts = raw.split(b".")
        if (
            len(parts) == 4
            and all(p and len(p) <= 3 and (p == b"0" or p[0] != 48) for p in parts)
            and all(int(p) <= 255 for p in parts)
        ):
            return raw
        return None
    if b":" not in raw:
        return None
    text = raw.split(b"%", 1)[0]
    try:
        ip = ipaddress.IPv6Address(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    return ip.compressed.encode("ascii")


def mapped_v4(canonical_v6: bytes) -> bytes | None:
    """The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), if any."""
    if not canonical_v6.startswith(b"::ffff:"):
        return None
    try:
        ip = ipaddress.IPv6Address(canonical_v6.decode("ascii")).ipv4_mapped
    except ValueError:
        return None
    return None if ip is None else str(ip).encode("ascii")


def file_hash(raw: bytes) -> bytes | None:
    value = raw.strip().lower()
    if len(value) in _HASH_LENGTHS and _HEX.issuperset(value):
        return value
    return None


def email(raw: bytes) -> bytes | None:
    """`local@domain` lower-cased (mail systems treat local parts case-insensitively in
    practice), the domain in A-label form; angle brackets and display names stripped."""
    value = raw.strip()
    if b"<" in value:
        value = value[value.rfind(b"<") + 1 :].split(b">", 1)[0]
    value = value.strip().strip(b"\"'")
    local, sep, host = value.rpartition(b"@")
    if not sep or not local or not host or len(local) > 64 or len(value) > 320:
        return None
    if any(c in local for c in b" \t<>,;"):
        return None
    dom = domain(host)
    if dom is None:
        return None
    return local.lower() + b"@" + dom


def _pct(match: re.Match[bytes]) -> bytes:
    code = int(match.group(1), 16)
    if code in _UNRESERVED:
        return bytes((code,))
    return b"%" + match.group(1).upper()


def url(raw: bytes, default_scheme: bytes = b"http") -> bytes | None:
    """Canonical URL: scheme and host lower-cased, IDN host in A-labels, default port and
    fragment dropped, percent-escapes of unreserved characters decoded and the others
    upper-cased, dot segments removed, empty path as '/'."""
    if not raw or len(raw) > MAX_VALUE:
        return None
    value = raw.strip()
    if b"://" not in value[:12]:
        value = default_scheme + b"://" + value
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    try:
        parts = urlsplit(text)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ftp") or not hostname:
        return None
    host_bytes = hostname.encode("utf-8")
    host = address(host_bytes)
    if host is not None and b":" in host:
        host = b"[" + host + b"]"
    if host is None:
        host = domain(host_bytes)
    if host is None:
        return None
    default_port = {"http": 80, "https": 443, "ftp": 21}[scheme]
    netloc = host if port in (None, default_port) else host + b":" + str(port).encode()
    path = _PCT.sub(_pct, parts.path.encode("utf-8")) or b"/"
    path = _remove_dot_segments(path)
    query = _PCT.sub(_pct, parts.query.encode("utf-8"))
    out = scheme.encode() + b"://" + netloc + path
    return out + b"?" + query if query else out


def _remove_dot_segments(path: bytes) -> bytes:
    if b"/." not in path:
        return path
    out: list[bytes] = []
    segments = path.split(b"/")
    for segment in segments[1:]:
        if segment == b"..":
            if out:
                out.pop()
        elif segment != b".":
            out.append(segment)
    trailing = b"/" if segments[-1] in (b".", b"..") else b""
    return b"/" + b"/".join(out) + trailing


def host(raw: bytes) -> tuple[str, bytes] | None:
    """A field that may hold an address or a domain (HTTP Host, DNS answers)."""
    value = raw
    if b":" in value and value.count(b":") == 1 and not value.startswith(b"["):
        value = value.split(b":", 1)[0]  # host:port
    addr = address(value)
    if addr is not None:
        return ("addr", addr)
    dom = domain(value)
    return None if dom is None else ("domain", dom)


_FAST_DOMAIN = re.compile(rb"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}")
_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_FAST_V4 = re.compile(_OCTET + rb"(?:\." + _OCTET + rb"){3}")


def detect_kind(value: bytes) -> tuple[str, bytes] | None:
    """Type detection for one indicator: (type, canonical value) with type one of ipv4,
    ipv6, cidr, domain, url, md5, sha1, sha256, email; None when it is none of them."""
    value = value.strip()
    # The two common cases of a million-line feed, decided by one regex each.
    low = value.lower()
    if len(low) <= 253 and _FAST_DOMAIN.fullmatch(low):
        return ("domain", low)
    if _FAST_V4.fullmatch(value):
        return ("ipv4", value)
    value = refang(value)
    if not value or len(value) > MAX_VALUE:
        return None
    if b"/" in value and b"://" not in value and len(value) <= 64:
        try:
            net = ipaddress.ip_network(value.decode("ascii"), strict=False)
        except (ValueError, UnicodeDecodeError):
            net = None
        if net is not None:
            if net.prefixlen == net.max_prefixlen:
                return ("ipv4" if net.version == 4 else "ipv6", _addr_text(net.network_address))
            return ("cidr", str(net).encode("ascii"))
    addr = address(value)
    if addr is not None:
        return ("ipv6" if b":" in addr else "ipv4", addr)
    digest = file_hash(value)
    if digest is not None:
        return (_HASH_LENGTHS[len(digest)], digest)
    if b"://" in value:
        canonical = url(value)
        return None if canonical is None else ("url", canonical)
    if b"@" in value:
        mail = email(value)
        return None if mail is None else ("email", mail)
    dom = domain(value.removeprefix(b"*."))
    if dom is not None and valid_domain(dom):
        return ("domain", dom)
    return None


def _addr_text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    return ip.compressed.encode("ascii")


# ----- str face: what intel and incidents store ---------------------------------------

KINDS = ("ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "asn")
ADDRESS_KINDS = ("ipv4", "ipv6")
HASH_KINDS = ("md5", "sha1", "sha256")
MAX_LENGTH = 2048
MAX_DOMAIN_LENGTH = 253
_HEX_TEXT = re.compile(r"\A[0-9a-fA-F]+\Z")
_HASH_SIZES = {"md5": 32, "sha1": 40, "sha256": 64}


class InvalidIndicator(ValueError):
    """The value is not of the kind named; the message says why, for the user."""


def detect(value: str) -> str:
    """The kind of a bare value (plain lists, CSV rows without a type column). Only empty
    and over-long values are refused here; `normalise` judges the rest."""
    text = value.strip()
    if not text:
        raise InvalidIndicator("empty value")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"longer than {MAX_LENGTH} characters")
    try:
        return "ipv4" if ipaddress.ip_address(text).version == 4 else "ipv6"
    except ValueError:
        pass
    if "/" in text and "://" not in text:
        try:
            ipaddress.ip_network(text, strict=False)
            return "cidr"
        except ValueError:
            pass
    if re.fullmatch(r"(?i)AS\d{1,10}", text):
        return "asn"
    if len(text) in _HASH_LENGTHS and _HEX_TEXT.match(text):
        return _HASH_LENGTHS[len(text)]
    if "://" in text:
        return "url"
    if "@" in text:
        return "email"
    return "domain"


def detected(value: str) -> tuple[str, str]:
    """(kind, canonical text) of a bare value."""
    return normalise(detect(value), value)


def normalise(kind: str, value: str) -> tuple[str, str]:
    """(kind, canonical text) of a value said to be of `kind`; InvalidIndicator when it is
    not one. A prefix given as an address becomes a cidr, and a /32 or /128 prefix the
    address it names."""
    text = value.strip()
    fast = _fast(kind, text)
    return (kind, fast) if fast is not None else _general(kind, text)


def _general(kind: str, text: str) -> tuple[str, str]:
    if kind not in KINDS:
        raise InvalidIndicator(f"unknown value type {kind!r}")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"longer than {MAX_LENGTH} characters")
    if kind == "cidr" or (kind in ADDRESS_KINDS and "/" in text):
        return _prefix(text)
    if kind == "asn":
        digits = text.upper().removeprefix("AS").strip()
        if not digits.isdigit() or len(digits) > 10 or int(digits) > 4294967295:
            raise InvalidIndicator(f"{text!r} is not an AS number")
        return "asn", str(int(digits))
    if kind in HASH_KINDS:
        size = _HASH_SIZES[kind]
        if len(text) != size or not _HEX_TEXT.match(text):
            raise InvalidIndicator(f"an {kind.upper()} is {size} hexadecimal digits")
        return kind, text.lower()
    raw = _encoded(text, kind)
    if kind in ADDRESS_KINDS:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise InvalidIndicator(f"{text!r} is not a valid {kind}") from None
        if (ip.version == 4) != (kind == "ipv4"):
            raise InvalidIndicator(f"{text} is not an {kind.upper()} address")
        canonical = address(raw)
    elif kind == "domain":
        canonical = domain(raw)
        if canonical != domain_name(text).encode("ascii"):
            canonical = None  # read differently by the bytes face: refused, not rewritten
    elif kind == "email":
        canonical = _email(text, raw)
    else:
        canonical = _url(text, raw)
    if canonical is None:
        raise InvalidIndicator(f"{text!r} is not a valid {kind}")
    return kind, canonical.decode("utf-8")


def _encoded(text: str, kind: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        raise InvalidIndicator(f"{text!r} is not a valid {kind}") from None


def _prefix(text: str) -> tuple[str, str]:
    if len(text) > 64:
        raise InvalidIndicator("too long to be an IP prefix")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidIndicator(f"{text!r} is not an IP prefix") from None
    if net.prefixlen == net.max_prefixlen:
        return ("ipv4" if net.version == 4 else "ipv6", str(net.network_address))
    return "cidr", str(net)


def domain_name(text: str) -> str:
    """The A-label form of a domain name as typed, or InvalidIndicator saying why not."""
    value = text.strip().rstrip(".")
    plain = plain_domain(value)
    if plain is not None:  # its A-label form is itself: no IDNA call
        return plain
    if not value:
        raise InvalidIndicator("Enter a domain name such as example.gov.tw.")
    if value.startswith("*."):
        raise InvalidIndicator(
            f"Enter {value[2:]} instead of {value}: a domain covers its sub-domains."
        )
    if len(value) > MAX_DOMAIN_LENGTH * 4:
        raise InvalidIndicator("Too long to be a domain name.")
    if value.isascii() and len(value) > MAX_DOMAIN_LENGTH:
        raise InvalidIndicator("A domain name is at most 253 characters long.")
    try:
        ascii_name = idna.encode(value, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidIndicator(f"{value!r} is not a valid domain name.") from None
    if len(ascii_name) > MAX_DOMAIN_LENGTH:
        raise InvalidIndicator("A domain name is at most 253 characters long.")
    top = ascii_name.rsplit(".", 1)[-1]
    if not top.isalpha() and not top.startswith("xn--"):
        raise InvalidIndicator(f"{value!r} does not end in a valid top-level domain.")
    return ascii_name


def _email(text: str, raw: bytes) -> bytes | None:
    local, sep, host = text.rpartition("@")
    if not sep or not local or len(local) > 64 or any(c.isspace() for c in local):
        raise InvalidIndicator(f"{text!r} is not an e-mail address")
    name = domain_name(host)
    canonical = email(raw)
    # Refused when the bytes face would have read it differently (a display name, quotes,
    # white space in the domain): what is stored is exactly what a log's field matches.
    if canonical != local.encode("utf-8").lower() + b"@" + name.encode("ascii"):
        raise InvalidIndicator(f"{text!r} is not an e-mail address")
    return canonical


def _url(text: str, raw: bytes) -> bytes | None:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
        hostname = parts.hostname
    except ValueError:
        raise InvalidIndicator(f"{text!r} is not a valid url") from None
    if parts.scheme.lower() not in ("http", "https", "ftp") or not hostname:
        raise InvalidIndicator(f"{text!r} is not an http(s) or ftp URL")
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        domain_name(hostname)
    return url(raw)


# Lower-case letters, digits and hyphens, no "--" (which IDNA checks), a letter TLD: the
# IDNA A-label of such a name is the name itself, so the IDNA library is skipped for it.
_PLAIN_DOMAIN = re.compile(
    r"\A(?=.{1,253}\Z)(?:(?!-)(?:(?!--)[a-z0-9-]){1,63}(?<!-)\.)+[a-z]{2,63}\Z"
)
_PLAIN_URL = re.compile(r"\A(https?|ftp)://([a-z0-9.-]+)(/[\x21-\x7e]*)?\Z")
_PLAIN_IPV4 = re.compile(
    r"\A(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z"
)


def plain_domain(text: str) -> str | None:
    lowered = text.lower()
    return lowered if _PLAIN_DOMAIN.match(lowered) else None


def _fast(kind: str, text: str) -> str | None:
    """The canonical text of common, plain values without the general parsers (which give
    the same result on them; core/tests/test_observables.py compares both)."""
    if kind == "ipv4":
        return text if _PLAIN_IPV4.match(text) else None
    if kind == "domain":
        return plain_domain(text)
    if kind in HASH_KINDS:
        return text.lower() if len(text) == _HASH_SIZES[kind] and _HEX_TEXT.match(text) else None
    if kind == "url":
        match = _PLAIN_URL.match(text)
        # No query or fragment, no escapes to decode, no dot segments to remove.
        if match is None or "#" in text or "?" in text or "%" in text or "/." in text:
            return None
        host = plain_domain(match.group(2))
        if host is None or host != match.group(2):
            return None
        return f"{match.group(1)}://{host}{match.group(3) or '/'}"
    return None
