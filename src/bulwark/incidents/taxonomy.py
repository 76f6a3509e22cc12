"""ENISA Reference Security Incident Taxonomy (RSIT): classes and their types, with the
names people read (the taxonomy's own English names, translated like every label)."""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from bulwark.incidents.rsit import RSIT as RSIT  # re-exported: the taxonomy names its classes

CLASS_LABELS = {
    "abusive-content": _("Abusive content"),
    "malicious-code": _("Malicious code"),
    "information-gathering": _("Information gathering"),
    "intrusion-attempts": _("Intrusion attempts"),
    "intrusions": _("Intrusions"),
    "availability": _("Availability"),
    "information-content-security": _("Information content security"),
    "fraud": _("Fraud"),
    "vulnerable": _("Vulnerable"),
    "other": _("Other"),
    "test": _("Test"),
}
TYPE_LABELS = {
    "spam": _("Spam"),
    "harmful-speech": _("Harmful speech"),
    "violence": _("(Child) sexual exploitation, sexual or violent content"),
    "infected-system": _("Infected system"),
    "c2-server": _("C2 server"),
    "malware-distribution": _("Malware distribution"),
    "malware-configuration": _("Malware configuration"),
    "scanner": _("Scanning"),
    "sniffing": _("Sniffing"),
    "social-engineering": _("Social engineering"),
    "ids-alert": _("IDS alert"),
    "brute-force": _("Login attempts"),
    "exploit": _("Exploitation of known vulnerabilities"),
    "privileged-account-compromise": _("Privileged account compromise"),
    "unprivileged-account-compromise": _("Unprivileged account compromise"),
    "application-compromise": _("Application compromise"),
    "system-compromise": _("System compromise"),
    "burglary": _("Burglary"),
    "dos": _("Denial of service"),
    "ddos": _("Distributed denial of service"),
    "misconfiguration": _("Misconfiguration"),
    "sabotage": _("Sabotage"),
    "outage": _("Outage"),
    "unauthorised-information-access": _("Unauthorised access to information"),
    "unauthorised-information-modification": _("Unauthorised modification of information"),
    "data-loss": _("Data loss"),
    "data-leak": _("Leak of confidential information"),
    "unauthorised-use-of-resources": _("Unauthorised use of resources"),
    "copyright": _("Copyright"),
    "masquerade": _("Masquerade"),
    "phishing": _("Phishing"),
    "weak-crypto": _("Weak cryptography"),
    "ddos-amplifier": _("DDoS amplifier"),
    "potentially-unwanted-accessible": _("Potentially unwanted accessible services"),
    "information-disclosure": _("Information disclosure"),
    "vulnerable-system": _("Vulnerable system"),
    "other": _("Other"),
    "undetermined": _("Undetermined"),
    "test": _("Test"),
}
CLASS_CHOICES = [(c, CLASS_LABELS[c]) for c in RSIT]
TYPE_CHOICES = [
    (t, format_lazy("{} / {}", CLASS_LABELS[c], TYPE_LABELS[t]))
    for c, types in RSIT.items()
    for t in types
]


def valid_pair(rsit_class: str, rsit_type: str) -> bool:
    return rsit_type in RSIT.get(rsit_class, ())
