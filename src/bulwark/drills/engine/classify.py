"""Is a tracking request a person or a machine? (pure, no Django)

Mail security gateways fetch every image and follow every link of a message as it
arrives, so counting every request counts the gateway as a careless employee (the first
complaint about GoPhish's figures). Each request is classified from what arrives with it
and from what came before for the same recipient; both kinds are kept, and only human
events count in the rates. The known scanners are data (`scanners.json`)."""

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    # Derived once: the ranges as integer bounds per IP version (an address is compared
    # as a number, not through an `ipaddress` object per range), and every agent marker
    # in one expression (one scan of the agent).
    spans: dict[int, tuple[tuple[int, int, str], ...]] = field(
        init=False, repr=False, compare=False
    )
    agent_pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spans = {
            version: tuple(
                (int(net.network_address), int(net.broadcast_address), owner)
                for net, owner in self.ranges
                if net.version == version
            )
            for version in (4, 6)
        }
        pattern = re.compile("|".join(re.escape(a) for a in self.agents) or "(?!)")
        object.__setattr__(self, "spans", spans)
        object.__setattr__(self, "agent_pattern", pattern)


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
    number = int(address)
    for first, last, owner in data.spans[address.version]:
        if first <= number <= last:
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
    if data.agent_pattern.search(agent):
        return SCANNER_AGENT
    if hit.ip and scanner_range(hit.ip, data):
        return SCANNER_RANGE
    if (
        hit.kind in ("clicked", "opened", "attachment")
        and hit.sent_at is not None
        and 0 <= (hit.at - hit.sent_at).total_seconds() < data.click_after_delivery_seconds
    ):
        return TOO_SOON
    return BURST if burst(hit, earlier, data) else ""


def burst(hit: Hit, earlier: Sequence[datetime], data: Known) -> bool:
    """Whether this request is one of `burst_requests` or more to the message's links
    within `burst_seconds` (`earlier`: the same recipient's previous ones)."""
    recent = [t for t in earlier if 0 <= (hit.at - t).total_seconds() <= data.burst_seconds]
    return hit.kind in MAIL_LINKS and len(recent) + 1 >= data.burst_requests
