"""fingerprint(): the deduplication key of "one problem on one asset", across imports and
tools.

Pure module (no Django import).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress

from .model import ParsedFinding, url_without_query


def fingerprint(f: ParsedFinding) -> str:
    """A stable 64-hex key; equal keys are the same problem on the same asset.

    The key hashes, separated so that no field can run into the next:
    - the asset: host (lower-case, an IP address in its canonical form, a name without
      its trailing dot), port, protocol, and the URL without query or fragment (scheme
      and host lower-case, default port dropped);
    - the location (SARIF file:line, a web parameter), as given;
    - the problem: its CVEs, sorted, when the tool names any; otherwise tool + rule id.

    So the same scan imported twice gives the same keys; two tools (Nessus and OpenVAS,
    Nuclei and ZAP...) reporting the same CVE on the same host and port give one key;
    the same CVE on another port, another host or another URL path is another finding;
    a finding without CVE is only merged with the same tool's same rule. Titles,
    severities, scores and evidence never take part: they change between tool versions.
    """
    asset = f.asset
    host = _host(asset.host)
    if f.cves:
        problem = "cve:" + ",".join(sorted({c.upper() for c in f.cves}))
    else:
        problem = f"rule:{f.tool}:{f.rule_id.strip()}"
    parts = (
        "v1",
        host,
        "" if asset.port is None else str(asset.port),
        asset.protocol.lower(),
        url_without_query(asset.url),
        f.location.strip(),
        problem,
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=4096)
def _host(host: str) -> str:
    """(Cached: a file names each host once per finding, a few thousand hosts in all.)"""
    host = host.strip().lower().strip("[]").rstrip(".")
    if host and (host[0].isdigit() or ":" in host):
        try:
            return ipaddress.ip_address(host).compressed
        except ValueError:
            return host
    return host
