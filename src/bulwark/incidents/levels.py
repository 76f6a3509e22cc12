"""Guided level determination (Taiwan's levels 1-4), from the reporter's answers.

Pure module: returns the proposed level and the reasons, in the words of the regulation,
so the reporter sees why (and may choose otherwise, with a reason).
"""

from dataclasses import dataclass
from typing import Literal

Impact = Literal["none", "minor", "serious"]
Secret = Literal["none", "general_official", "sensitive", "national"]


@dataclass(frozen=True)
class Answers:
    confidentiality: Impact = "none"  # leak
    integrity: Impact = "none"  # alteration
    availability: Impact = "none"  # outage
    core_system: bool = False
    critical_infrastructure: bool = False
    restored_in_time: bool | None = None  # None: not an outage, or not known yet
    secret: Secret = "none"


def propose_level(a: Answers) -> tuple[int, list[str]]:
    reasons: list[str] = []
    level = 1
    worst = max(
        (a.confidentiality, a.integrity),
        key=lambda i: ("none", "minor", "serious").index(i),
    )

    def raise_to(n: int, why: str) -> None:
        nonlocal level
        if n > level:
            level = n
        reasons.append(f"L{n}: {why}")

    if a.secret == "national" and a.confidentiality != "none":
        raise_to(4, "any leak of national secrets")
    if a.secret in ("general_official", "sensitive") or a.critical_infrastructure:
        if worst == "serious":
            raise_to(
                4, "serious leak or alteration of official secrets, sensitive or CI information"
            )
        elif worst == "minor":
            raise_to(
                3, "minor leak or alteration of official secrets, sensitive or CI core information"
            )
    if a.critical_infrastructure and a.core_system and a.availability != "none":
        if a.restored_in_time is False:
            raise_to(4, "a CI core system not restored within its tolerable interruption time")
        else:
            raise_to(3, "a CI core system disrupted (restored in time)")
    if a.core_system and not a.critical_infrastructure:
        if worst == "serious":
            raise_to(3, "serious impact on core business information (non-CI)")
        elif worst == "minor":
            raise_to(2, "minor impact on core business information (non-CI)")
        if a.availability != "none":
            if a.restored_in_time is False:
                raise_to(3, "a core system not restored within its tolerable interruption time")
            else:
                raise_to(2, "a core system disrupted (restored in time)")
    if not a.core_system:
        if worst == "serious":
            raise_to(2, "serious leak or alteration of non-core information")
        elif worst == "minor":
            raise_to(1, "minor leak or alteration of non-core information")
        if a.availability != "none":
            if a.restored_in_time is False:
                raise_to(2, "a non-core system not restored within its tolerable interruption time")
            else:
                raise_to(1, "a non-core system restored within its tolerable interruption time")
    if not reasons:
        reasons.append("L1: no impact beyond non-core information or systems was reported")
    return level, reasons
