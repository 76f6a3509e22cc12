"""Nmap XML (`-oX`): each host that is up is a ParsedService without a port (its best OS
match as the product), also when no port of it is open (a scanned host); each open port
is a ParsedService (host, port, protocol, service, product, version); the `vulners` NSE
script's CVEs on a port become findings.
Pure module (no Django import).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .model import (
    Asset,
    ParsedFinding,
    ParsedService,
    ParseError,
    clean,
    severity_from_score,
    to_float,
    to_port,
)
from .streams import Readable, iterparse, release

TOOL = "nmap"


def parse(stream: Readable) -> Iterator[ParsedFinding | ParsedService]:
    seen_root = False
    for event, element in iterparse(stream, ("nmaprun", "host"), ("start", "end")):
        if not seen_root:
            if element.tag != "nmaprun":
                raise ParseError(f"Not an Nmap XML file: the root element is <{element.tag}>.")
            seen_root = True
            continue
        if event == "end" and element.tag == "host":
            yield from _host(element)
            release(element)
    if not seen_root:
        raise ParseError("Not an Nmap XML file.")


def _host(host: Any) -> Iterator[ParsedFinding | ParsedService]:
    address = ""
    for kind in ("ipv4", "ipv6", "mac"):
        for element in host.iterfind("address"):
            if element.get("addrtype") == kind and element.get("addr"):
                address = element.get("addr").lower()
                break
        if address:
            break
    if not address:
        hostname = host.find("hostnames/hostname")
        address = (hostname.get("name") or "").lower() if hostname is not None else ""
    if not address:
        return
    end = host.get("endtime") or host.get("starttime") or ""
    observed = datetime.fromtimestamp(int(end), tz=UTC) if end.isdigit() else None
    status = host.find("status")
    if status is None or status.get("state") == "up":
        osmatch = host.find("os/osmatch")
        system = clean(osmatch.get("name") if osmatch is not None else "", 200)
        yield ParsedService(asset=Asset(host=address), product=system)
    for port in host.iterfind("ports/port"):
        state = port.find("state")
        if state is None or state.get("state") != "open":
            continue
        number = to_port(port.get("portid"))
        protocol = (port.get("protocol") or "").lower()
        service = port.find("service")
        name = (service.get("name") or "").lower() if service is not None else ""
        if service is not None and service.get("tunnel") == "ssl" and name == "http":
            name = "https"
        product = clean(service.get("product") if service is not None else "", 200)
        version = clean(service.get("version") if service is not None else "", 100)
        asset = Asset(
            host=address,
            port=number,
            protocol=protocol if protocol in ("tcp", "udp") else "",
            service=name,
        )
        yield ParsedService(asset=asset, product=product, version=version)
        yield from _vulners(port, asset, product, version, observed)


def _vulners(
    port: Any, asset: Asset, product: str, version: str, observed: datetime | None
) -> Iterator[ParsedFinding]:
    for script in port.iterfind("script"):
        if script.get("id") != "vulners":
            continue
        for cpe_table in script.iterfind("table"):
            cpe = cpe_table.get("key") or ""
            for entry in cpe_table.iterfind("table"):
                fields = {e.get("key"): (e.text or "").strip() for e in entry.iterfind("elem")}
                ident = fields.get("id", "").upper()
                if fields.get("type", "").lower() != "cve" or not ident.startswith("CVE-"):
                    continue
                score = to_float(fields.get("cvss"))
                software = " ".join(part for part in (product, version) if part) or cpe
                exploit = fields.get("is_exploit", "").lower() == "true"
                yield ParsedFinding(
                    tool=TOOL,
                    rule_id="vulners",
                    title=f"{ident} in {software}" if software else ident,
                    severity=severity_from_score(score) or "info",
                    asset=asset,
                    cves=(ident,),
                    cvss_score=score,
                    description=(
                        f"Nmap's vulners script lists {ident} for {cpe or software}"
                        + (" (a public exploit exists)." if exploit else ".")
                    ),
                    references=(f"https://vulners.com/cve/{ident}",),
                    observed_at=observed,
                )
