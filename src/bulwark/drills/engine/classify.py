"""Is a tracking request a person or a machine? (pure, no Django)

Mail security gateways fetch every image and follow every link of a message as it
arrives, so counting every request counts the gateway as a careless employee (the first
complaint about GoPhish's figures). Each request is classified from what arrives with it
and from what came before for the same recipient; both kinds are kept, and only human
events count in the rates. The known scanners are data (`scanners.json`)."""

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("scanners.json")

# Reasons, stored with the event (and translated where they are shown).
SCANNER_AGENT = "scanner agent"
SCANNER_RANGE = "scanner address range"
HEAD_REQUEST = "HEAD request"
NO_AGENT = "no user agent"
TOO_SOON = "clicked within seconds of delivery"
BURST = "many links at once"
NO_FOLLOW_UP = "no follow-up page load"


@dataclass(frozen=True)
class Known:
    agents: tuple[str, ...]
    ranges: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]
    click_after_delivery_seconds: float
    burst_requests: int
    burst_seconds: float


@cache
def known(path: str = str(DATA)) -> Known:
    raw: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return Known(
        agents=tuple(a.lower() for a in raw["agents"]),
        ranges=tuple((ipaddress.ip_network(r["cidr"]), r["owner"]) for r in raw["ranges"]),
        click_after_delivery_seconds=float(raw["click_after_delivery_seconds"]),
        burst_requests=int(raw["burst_requests"]),
        burst_seconds=float(raw["burst_seconds"]),
    )


# The requests a message's own links and images make (the landing page's image and its
# submit come from our page, after a person's click, and are not "links at once").
MAIL_LINKS = frozenset({"opened", "clicked", "attachment"})


@dataclass(frozen=True)
class Hit:
    kind: str  # "opened", "clicked", "attachment", "submitted", "page"
    at: datetime
    method: str = "GET"
    ip: str = ""
    agent: str = ""
    sent_at: datetime | None = None


def scanner_range(ip: str, data: Known | None = None) -> str:
    """The owner of the known scanner range holding `ip`, or ""."""
    data = data or known()
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    for network, owner in data.ranges:
        if address.version == network.version and address in network:
            return owner
    return ""


def classify(hit: Hit, earlier: Sequence[datetime] = (), data: Known | None = None) -> str:
    """The reason this request is automated, or "" for a person. `earlier`: when the
    same recipient's previous requests to the message's links arrived (the burst rule)."""
    data = data or known()
    if hit.method.upper() == "HEAD":
        return HEAD_REQUEST
    agent = hit.agent.strip().lower()
    if not agent:
        return NO_AGENT
    if any(marker in agent for marker in data.agents):
        return SCANNER_AGENT
    if hit.ip and scanner_range(hit.ip, data):
        return SCANNER_RANGE
    if (
        hit.kind in ("clicked", "opened", "attachment")
        and hit.sent_at is not None
        and 0 <= (hit.at - hit.sent_at).total_seconds() < data.click_after_delivery_seconds
    ):
        return TOO_SOON
    recent = [t for t in earlier if 0 <= (hit.at - t).total_seconds() <= data.burst_seconds]
    if hit.kind in MAIL_LINKS and len(recent) + 1 >= data.burst_requests:
        return BURST
    return ""
