"""Detector settings (every threshold, with its documented default), the CERT's allow
lists and the finding every detector returns."""

import ipaddress
from dataclasses import dataclass, field
from typing import Any

# Addresses that are "inside" an agency: a beacon, a long connection or a tunnel starts
# here and goes elsewhere. RFC 1918, CGNAT, link-local, ULA (settable).
DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                    "169.254.0.0/16", "fc00::/7", "fe80::/10")  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Thresholds of every detector. `BULWARK_BEHAVIOUR_<NAME>` environment variables
    (settings.py) and `--set NAME=VALUE` (CLI) override them."""

    # What is internal, and what is common enough to be nobody's beacon.
    internal_networks: tuple[str, ...] = DEFAULT_INTERNAL
    common_min_hosts: int = 20  # a destination this many internal hosts talk to ...
    common_host_fraction: float = 0.01  # ... and at least this fraction of them is common
    # Beaconing
    beacon_min_connections: int = 20  # per pair and window
    beacon_threshold: float = 0.7  # score from which a pair is reported
    beacon_min_interval: float = 1.0  # seconds; closer connections count as one session
    # Long connections
    long_min_seconds: float = 3600.0
    # DNS tunnelling
    tunnel_min_unique: int = 50  # unique sub-domains per client and registered domain
    tunnel_threshold: float = 0.6
    # DGA
    dga_min_nxdomain: int = 10  # NXDOMAIN answers in one burst window
    dga_burst_seconds: float = 300.0
    dga_threshold: float = 0.6
    # Scanning and fan-out
    scan_min_hosts: int = 100  # distinct addresses on one port (horizontal)
    scan_min_ports: int = 100  # distinct ports on one address (vertical)
    fanin_min_agencies: int = 3  # one outside address contacting this many agencies
    # Rare and new
    rare_min_agencies: int = 3  # rarity is only meaningful across this many agencies
    rare_max_hosts: int = 2
    new_days: int = 7  # "first seen nationally" within this many days

    @classmethod
    def with_overrides(cls, values: dict[str, str]) -> "Settings":
        """Settings with NAME=VALUE strings applied; a clear ValueError on a bad one."""
        base = cls()
        changes: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in cls.__dataclass_fields__:
                raise ValueError(f"unknown detector setting {name!r}")
            current = getattr(base, name)
            try:
                if isinstance(current, tuple):
                    changes[name] = tuple(v.strip() for v in raw.split(",") if v.strip())
                elif isinstance(current, int):
                    changes[name] = int(raw)
                else:
                    changes[name] = float(raw)
            except ValueError:
                raise ValueError(f"setting {name}: {raw!r} is not a number") from None
        if "internal_networks" in changes:
            for net in changes["internal_networks"]:
                try:
                    ipaddress.ip_network(net, strict=False)
                except ValueError:
                    raise ValueError(
                        f"setting internal_networks: {net!r} is not a network"
                    ) from None
        return cls(**{**base.__dict__, **changes})

    def documented(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class AllowList:
    """What the CERT marked as benign: destinations (addresses, networks, domains and
    their sub-domains) for every detector, or for one detector (`detector:value`).
    Never hard-coded: the platform keeps it (false-positive marks feed it)."""

    entries: set[tuple[str, str]] = field(default_factory=set)  # (detector or "*", value)

    @classmethod
    def parse(cls, lines: list[str]) -> "AllowList":
        allow = cls()
        for raw in lines:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            detector, sep, value = line.partition(":")
            if sep and detector in _DETECTOR_NAMES and value:
                allow.add(value, detector)
            else:
                allow.add(line)
        return allow

    def add(self, value: str, detector: str = "*") -> None:
        self.entries.add((detector, value.strip().lower().rstrip(".")))

    def _networks(self) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
        out = []
        for detector, value in self.entries:
            if "/" in value:
                try:
                    out.append((detector, ipaddress.ip_network(value, strict=False)))
                except ValueError:
                    continue
        return out

    def allows(self, detector: str, value: str) -> bool:
        if not self.entries:
            return False
        value = value.lower().rstrip(".")
        for scope in ("*", detector):
            if (scope, value) in self.entries:
                return True
            parts = value.split(".")
            for i in range(1, len(parts) - 1):
                if (scope, ".".join(parts[i:])) in self.entries:
                    return True
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(scope in ("*", detector) and address in net for scope, net in self._networks())


_DETECTOR_NAMES = frozenset({"beacon", "long-connection", "dns-tunnel", "dga", "scan", "fan-in",
                             "rare"})  # fmt: skip


@dataclass
class Finding:
    """One abnormal activity: which detector, from which internal host (`source`) to
    which address or domain (`destination`), how sure (`score`, 0-1) and why
    (`evidence`: the figures the score comes from, and where the raw lines are)."""

    detector: str
    source: str
    destination: str
    score: float
    evidence: dict[str, Any]
    first_seen: float | None = None
    last_seen: float | None = None
    agency: str | None = None
    lines: list[str] = field(default_factory=list)  # "file:line" of raw log lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "source": self.source,
            "destination": self.destination,
            "score": round(self.score, 3),
            "agency": self.agency,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "evidence": self.evidence,
            "lines": self.lines,
        }
