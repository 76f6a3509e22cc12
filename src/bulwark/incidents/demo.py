"""Demo incidents in every state and clock state (loaded by `bulwark demo`)."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from bulwark.constituency.models import Organisation, User
from bulwark.incidents import services
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident, LevelChange

FINAL = {
    "times": "Occurred and noticed on the same morning; recovery completed the next day.",
    "scope_and_damage": "Two servers affected; no personal data left the network.",
    "damage_control": "Hosts isolated, credentials reset, services restored from backups.",
    "investigation": "Logs and memory images examined with the national CERT.",
    "root_cause": "An internet-facing VPN appliance missed a security update.",
    "prevention": "Patch SLA of 72 hours for edge devices; MFA on remote access.",
    "follow_up": "Monthly review by the CISO until all measures are in place.",
}

# title, organisation, class, type, answers, hours since awareness, steps to run
CASES: list[tuple[str, str, str, str, Answers, float, list[str]]] = [
    ("Phishing wave against staff mailboxes", "Administration for Digital Industries", "fraud", "phishing",
     Answers(confidentiality="minor"), 0.5, []),
    ("Web site defacement", "Highway Bureau", "intrusions", "application-compromise",
     Answers(integrity="serious", core_system=True), 3, []),
    ("DDoS on the online booking system", "Taiwan Railway Corporation (demo)", "availability", "ddos",
     Answers(availability="serious", core_system=True, critical_infrastructure=True, restored_in_time=True), 5, ["review"]),
    ("Ransomware on an engineering workstation", "Taiwan Power Company (demo)", "malicious-code", "infected-system",
     Answers(integrity="minor", availability="minor"), 20, ["review", "respond"]),
    ("Leak of patient appointment data", "Taipei Veterans General Hospital (demo)", "information-content-security", "data-leak",
     Answers(confidentiality="serious", core_system=True, critical_infrastructure=True), 40, ["review", "respond"]),
    ("Compromised VPN appliance", "Taiwan Stock Exchange (demo)", "intrusions", "system-compromise",
     Answers(confidentiality="minor", core_system=True, critical_infrastructure=True), 100, ["review", "respond", "recover"]),
    ("Malware beaconing from a file server", "Central Taiwan Science Park Bureau", "malicious-code", "c2-server",
     Answers(integrity="minor", core_system=True), 400, ["review", "respond", "recover", "final_report"]),
    ("Credential stuffing on the citizen portal", "Department of Household Registration", "intrusion-attempts", "brute-force",
     Answers(confidentiality="minor"), 500, ["review", "recover", "final_report", "revise"]),
    ("Misconfigured storage bucket", "Water Resources Agency", "vulnerable", "information-disclosure",
     Answers(confidentiality="minor"), 900, ["review", "recover", "final_report", "close"]),
    ("Social-engineering drill", "Kaohsiung City Government", "information-gathering", "social-engineering",
     Answers(), 2, ["drill"]),
]  # fmt: skip


def _shift(incident: Incident, hours_ago: float) -> None:
    """Move a demo case's history back in time so that its clocks show real states."""
    delta = timedelta(hours=hours_ago)
    fields = [
        "aware_at",
        "reported_at",
        "reviewed_at",
        "forwarded_at",
        "recovered_at",
        "final_report_at",
        "closed_at",
    ]
    updates: dict[str, Any] = {}
    for name in fields:
        value: datetime | None = getattr(incident, name)
        if value is not None:
            updates[name] = value - delta
    Incident.objects.filter(pk=incident.pk).update(**updates)
    for change in incident.level_changes.all():
        LevelChange.objects.filter(pk=change.pk).update(at=change.at - delta)


# Cases whose recovery took this many hours after awareness (to show late clocks).
RECOVERY_HOURS = {"Compromised VPN appliance": 48, "Malware beaconing from a file server": 30}


# Task lists the CERT keeps per incident class, applied when a response starts.
TEMPLATES = {
    "malicious-code": "2 | Isolate the infected hosts\n8 | Collect a memory image and the malware sample\n"
    "24 | Check the agency's other hosts for the same indicators",
    "intrusions": "4 | Reset credentials of the compromised accounts\n"
    "24 | Review the appliance's logs since the last patch\n72 | Confirm the patch on every edge device",
    "information-content-security": "4 | Identify the leaked records and their owners\n"
    "24 | Prepare the notice to the people affected",
}
# Observables reported with a case, and the tags the duty officer put on them.
OBSERVABLES = {
    "Compromised VPN appliance": [
        ("198.51.100.23", ["c2", "vpn-exploit"]),
        ("vpn-update.example", ["phishing-kit"]),
    ],
}
# Tags the duty officer put on cases, and a filter saved for the morning round.
TAGS = {
    "Ransomware on an engineering workstation": ["ransomware", "ot-network"],
    "Compromised VPN appliance": ["vpn", "edge-device"],
    "DDoS on the online booking system": ["ddos"],
}


@transaction.atomic
def load() -> int:
    reporter = User.objects.get(username="admin")
    duty = User.objects.get(username="duty")
    if not Incident.objects.filter(title__in=[c[0] for c in CASES]).exists():
        for rsit_class, tasks in TEMPLATES.items():
            services.save_case_template(duty, rsit_class, tasks)
        services.save_filter(duty, "Level 3, past a deadline", "level=3&clock=overdue")
    created = 0
    for title, org_name, rsit_class, rsit_type, answers, age, steps in CASES:
        if Incident.objects.filter(title=title).exists():
            continue
        org = Organisation.objects.get(name=org_name)
        now = timezone.now()
        incident = services.report_incident(
            reporter, org, title=title, description=f"Demo case: {title.lower()}.",
            rsit_class=rsit_class, rsit_type=rsit_type, answers=answers,
            aware_at=now - timedelta(minutes=40), is_drill="drill" in steps,
            indicators=[("", value) for value, _tags in OBSERVABLES.get(title, [])],
        )  # fmt: skip
        if "review" in steps:
            incident = services.review_incident(duty, incident, level=incident.level)
        if "respond" in steps:
            incident = services.start_response(duty, incident)
        if "recover" in steps:
            incident = services.report_recovery(
                duty, incident, completed_at=timezone.now(), summary="Service restored."
            )
        if "final_report" in steps:
            services.submit_final_report(duty, incident, **FINAL)
        if "revise" in steps:
            services.decide_final_report(
                duty, incident, approve=False, comment="Add the patch timeline."
            )
        if "close" in steps:
            services.decide_final_report(duty, incident, approve=True)
        incident.refresh_from_db()
        _shift(incident, age)
        incident.refresh_from_db()
        if title in RECOVERY_HOURS:
            incident.recovered_at = incident.aware_at + timedelta(hours=RECOVERY_HOURS[title])
            incident.save(update_fields=["recovered_at"])
        services.refresh_due(incident)
        if title in TAGS:
            services.set_tags(duty, incident, TAGS[title])
        for value, tags in OBSERVABLES.get(title, []):
            observable = incident.indicators.get(value=value)
            services.set_indicator_tags(duty, incident, observable.pk, tags)
        created += 1
    return created
