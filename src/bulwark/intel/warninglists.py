"""MISP warning lists: values that are known not to be indicators (public DNS resolvers,
top domains, cloud and CDN ranges, ...), so that sharing `8.8.8.8` or `google.com` as an
indicator is flagged on the value, indicator and review pages and in the submission's
report, and never reaches a detection export.

The lists are MISP's published ones as shipped by the `pymispwarninglists` package (its
`list.json` files), plus any `list.json` under the directories named in the setting
`BULWARK_WARNINGLIST_DIRS` (or the environment variable of that name, separated by ':'):
a CERT keeps its own lists there. A list's `matching_attributes` decide which kinds of
value it applies to. Lists named (by their folder) in `BULWARK_WARNINGLIST_SKIP` are left
out; by default `tranco` and `google-chrome-crux-1million` (a million names each: hundreds
of MB of memory per process, where `tranco10k`, `cisco_top20k` and `alexa` carry the top
sites), and `rfc5735` and `rfc3849`, which hold the
documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) that the
demo, the documentation and the test suites use as stand-ins for real addresses.

Matching follows MISP's list types: `string` (equal, ignoring case), `hostname` (the host
or one of its parent domains), `substring`, `regex`, `cidr` (an address, or a whole
prefix, inside a listed range). Matching is a hash or a binary search per value, so an
export of a million values spends about a second here; results are cached per value.
"""

import bisect
import ipaddress
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

# value kind -> the MISP attribute types that hold it (`domain|ip` is left out: lists name it
# beside the plain types when they mean addresses or names, and the disposable e-mail list
# names it alone with e-mail types)
KIND_TYPES: dict[str, frozenset[str]] = {
    "ip": frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "ip"}),
    "domain": frozenset({"domain", "hostname", "hostname|port"}),
    "url": frozenset({"url", "uri", "link"}),
    "email": frozenset(
        {
            "email",
            "email-src",
            "email-dst",
            "email-reply-to",
            "target-email",
            "whois-registrant-email",
        }
    ),
    "hash": frozenset(
        {
            "md5",
            "sha1",
            "sha256",
            "filename|md5",
            "filename|sha1",
            "filename|sha256",
            "malware-sample",
        }
    ),
    "asn": frozenset({"AS"}),
}
GROUP = {
    "ipv4": "ip", "ipv6": "ip", "cidr": "ip", "domain": "domain", "url": "url",
    "email": "email", "md5": "hash", "sha1": "hash", "sha256": "hash", "asn": "asn",
}  # fmt: skip


@dataclass
class _Group:
    strings: dict[str, str] = field(default_factory=dict)
    hostnames: dict[str, str] = field(default_factory=dict)
    substrings: list[tuple[str, str]] = field(default_factory=list)
    regexes: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    ranges: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    starts: dict[int, list[int]] = field(default_factory=dict)


@dataclass(eq=False)  # hashed by identity: the per-value cache is keyed by the matcher
class Matcher:
    groups: dict[str, _Group]
    names: list[str]  # the lists loaded

    def hits(self, kind: str, value: str) -> list[str]:
        """Names of the lists `value` (normalised, of `kind`) is on."""
        group = self.groups.get(GROUP.get(kind, ""))
        if group is None:
            return []
        text = value.strip().lower()
        found: list[str] = []
        if text in group.strings:
            found.append(group.strings[text])
        host = None
        if kind == "domain":
            host = text.rstrip(".")
        elif kind == "url":
            host = text.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].rsplit(":", 1)[0]
        elif kind == "email":
            host = text.rsplit("@", 1)[-1]
        if host:
            if host in group.strings and group.strings[host] not in found:
                found.append(group.strings[host])
            parts = host.split(".")
            for i in range(len(parts)):
                name = group.hostnames.get(".".join(parts[i:]))
                if name:
                    found.append(name)
                    break
        if kind in ("ipv4", "ipv6", "cidr"):
            found += self._in_ranges(group, text)
        for needle, name in group.substrings:
            if needle in text:
                found.append(name)
                break
        for pattern, name in group.regexes:
            if pattern.search(value):
                found.append(name)
                break
        return list(dict.fromkeys(found))

    def listed(self, kind: str, value: str) -> bool:
        return _listed(self, kind, value)

    @staticmethod
    def _in_ranges(group: _Group, text: str) -> list[str]:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return []
        starts = group.starts.get(net.version, [])
        index = bisect.bisect_right(starts, int(net.network_address)) - 1
        if index < 0:
            return []
        _start, end, name = group.ranges[net.version][index]
        return [name] if int(net.broadcast_address) <= end else []


@lru_cache(maxsize=200_000)
def _listed(m: Matcher, kind: str, value: str) -> bool:
    return bool(m.hits(kind, value))


def _setting(name: str, default: str) -> str:
    from django.conf import settings

    found = getattr(settings, name, None)
    if found is None:
        return os.environ.get(name, default)
    return ":".join(found) if isinstance(found, list | tuple) else str(found)


DEFAULT_SKIP = "tranco:google-chrome-crux-1million:rfc5735:rfc3849"


def list_files() -> list[Path]:
    """The list.json files: the package's, then the CERT's own directories."""
    files: list[Path] = []
    skip = set(_setting("BULWARK_WARNINGLIST_SKIP", DEFAULT_SKIP).split(":"))
    try:
        # Lazy: the warning lists take seconds to load; read once, on first use.
        import pymispwarninglists

        base = Path(pymispwarninglists.__file__).parent
        files += [p for p in sorted(base.rglob("list.json")) if p.parent.name not in skip]
    except ImportError:  # pragma: no cover - a runtime dependency; the CERT's lists still load
        pass
    for folder in filter(None, _setting("BULWARK_WARNINGLIST_DIRS", "").split(":")):
        path = Path(folder)
        files += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return files


def build(documents: Iterable[dict[str, Any]]) -> Matcher:
    """A matcher over MISP warning-list documents."""
    groups: dict[str, _Group] = {g: _Group() for g in KIND_TYPES}
    raw_ranges: dict[str, dict[int, list[tuple[int, int, str]]]] = {g: {} for g in KIND_TYPES}
    names = []
    for doc in documents:
        if not isinstance(doc, dict) or not isinstance(doc.get("list"), list):
            continue
        name = str(doc.get("name", "unnamed list"))
        names.append(name)
        kind = doc.get("type", "string")
        attrs = set(doc.get("matching_attributes") or [])
        applies = [g for g, types in KIND_TYPES.items() if not attrs or attrs & types]
        for entry in doc["list"]:
            text = str(entry).strip()
            if not text:
                continue
            for g in applies:
                group = groups[g]
                if kind == "cidr":
                    try:
                        net = ipaddress.ip_network(text, strict=False)
                    except ValueError:
                        continue
                    raw_ranges[g].setdefault(net.version, []).append(
                        (int(net.network_address), int(net.broadcast_address), name)
                    )
                elif kind == "hostname":
                    group.hostnames.setdefault(text.lower().strip(".").removeprefix("*."), name)
                elif kind == "substring":
                    group.substrings.append((text.lower(), name))
                elif kind == "regex":
                    try:
                        group.regexes.append((re.compile(text), name))
                    except re.error:
                        continue
                else:
                    group.strings.setdefault(text.lower(), name)
                    if g == "ip" and "/" not in text:  # addresses in a string list
                        try:
                            ip = ipaddress.ip_address(text)
                        except ValueError:
                            continue
                        raw_ranges[g].setdefault(ip.version, []).append((int(ip), int(ip), name))
    for g, by_version in raw_ranges.items():
        for version, ranges in by_version.items():
            merged: list[tuple[int, int, str]] = []
            for start, end, name in sorted(ranges):
                if merged and start <= merged[-1][1] + 1:
                    last = merged[-1]
                    merged[-1] = (last[0], max(last[1], end), last[2])
                else:
                    merged.append((start, end, name))
            groups[g].ranges[version] = merged
            groups[g].starts[version] = [r[0] for r in merged]
    return Matcher(groups, names)


_MATCHER: Matcher | None = None


def matcher() -> Matcher:
    """The matcher of the installed lists (built once per process; `reload()` rebuilds)."""
    global _MATCHER
    if _MATCHER is None:
        docs = []
        for path in list_files():
            try:
                docs.append(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError):
                continue
        _MATCHER = build(docs)
    return _MATCHER


def reload() -> Matcher:
    global _MATCHER
    _MATCHER = None
    _listed.cache_clear()
    return matcher()


def hits(kind: str, value: str) -> list[str]:
    return matcher().hits(kind, value)
