"""The annual report's own categories, a display mapping on top of RSIT (DOMAIN.md
section 3): the CERT reports "Intrusion", "Malware infected system", "Attack", ... while
the data keeps the RSIT class and type. Counts are grouped by the stored column in the
database, then folded into these labels (a handful of rows), so a category's count is
always the sum of the records behind it."""

from collections.abc import Iterable, Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Incidents reported by agencies: RSIT class -> report category.
INCIDENT_CATEGORIES: Mapping[str, Promise] = {
    "intrusions": _("Intrusion"),
    "intrusion-attempts": _("Intrusion attempt"),
    "malicious-code": _("Malware infected system"),
    "availability": _("Denial of service / outage"),
    "information-content-security": _("Information leak or alteration"),
    "fraud": _("Phishing and fraud"),
    "abusive-content": _("Spam and abusive content"),
    "information-gathering": _("Scanning and reconnaissance"),
    "vulnerable": _("Vulnerable system"),
    "other": _("Other"),
    "test": _("Test"),
}

# Reports from foreign CERTs and feeds: classification.type -> report category.
_EVENT_GROUPS: dict[str, tuple[str, ...]] = {
    "malware": ("infected-system", "c2-server", "malware-distribution", "malware-configuration"),
    "attack": (
        "ddos", "dos", "brute-force", "exploit", "ids-alert", "scanner", "sniffing",
        "system-compromise", "application-compromise", "privileged-account-compromise",
        "unprivileged-account-compromise", "burglary", "sabotage",
    ),
    "spam": ("spam", "harmful-speech", "violence"),
    "phishing": ("phishing", "masquerade", "social-engineering"),
    "vulnerable": (
        "vulnerable-system", "weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
        "information-disclosure", "misconfiguration",
    ),
    "leak": (
        "data-leak", "data-loss", "unauthorised-information-access",
        "unauthorised-information-modification",
    ),
}  # fmt: skip
EVENT_LABELS: Mapping[str, Promise] = {
    "malware": _("Malware infected system"),
    "attack": _("Attack"),
    "spam": _("Spam"),
    "phishing": _("Phishing"),
    "vulnerable": _("Vulnerable service"),
    "leak": _("Information leak"),
    "other": _("Other"),
}
_EVENT_GROUP_OF = {t: group for group, types in _EVENT_GROUPS.items() for t in types}


def incident_category(rsit_class: str) -> str:
    return str(INCIDENT_CATEGORIES.get(rsit_class, INCIDENT_CATEGORIES["other"]))


def event_category(classification_type: str) -> str:
    return str(EVENT_LABELS[_EVENT_GROUP_OF.get(classification_type, "other")])


def fold(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Sum counts of equal labels; largest first, ties by label (stable output)."""
    totals: dict[str, int] = {}
    for label, n in pairs:
        totals[label] = totals.get(label, 0) + int(n or 0)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))
