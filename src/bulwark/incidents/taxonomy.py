"""ENISA Reference Security Incident Taxonomy (RSIT): classes and their types."""

RSIT: dict[str, tuple[str, ...]] = {
    "abusive-content": ("spam", "harmful-speech", "violence"),
    "malicious-code": (
        "infected-system", "c2-server", "malware-distribution", "malware-configuration",
    ),
    "information-gathering": ("scanner", "sniffing", "social-engineering"),
    "intrusion-attempts": ("ids-alert", "brute-force", "exploit"),
    "intrusions": (
        "privileged-account-compromise", "unprivileged-account-compromise",
        "application-compromise", "system-compromise", "burglary",
    ),
    "availability": ("dos", "ddos", "misconfiguration", "sabotage", "outage"),
    "information-content-security": (
        "unauthorised-information-access", "unauthorised-information-modification",
        "data-loss", "data-leak",
    ),
    "fraud": ("unauthorised-use-of-resources", "copyright", "masquerade", "phishing"),
    "vulnerable": (
        "weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
        "information-disclosure", "vulnerable-system",
    ),
    "other": ("other", "undetermined"),
    "test": ("test",),
}  # fmt: skip

CLASS_CHOICES = [(c, c) for c in RSIT]
TYPE_CHOICES = [(t, f"{c} / {t}") for c, types in RSIT.items() for t in types]


def valid_pair(rsit_class: str, rsit_type: str) -> bool:
    return rsit_type in RSIT.get(rsit_class, ())
