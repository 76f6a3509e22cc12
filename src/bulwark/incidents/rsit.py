"""ENISA Reference Security Incident Taxonomy (RSIT): its classes and their types, as codes.

A pure module (no Django): the report exchange's engine classifies events with it, and
`incidents/taxonomy.py` adds the names people read."""

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
