"""Demo drills, loaded by `bulwark demo` through the services (idempotent): two past
social-engineering campaigns with results (the second compared with the first, with
improvement plans filed and closed), one running, a compliance calendar with every
state, and an incident-response drill."""

import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from bulwark.constituency.models import Organisation, User
from bulwark.drills import services
from bulwark.drills.exercises import demo as exercises_demo
from bulwark.drills.models import (
    Campaign,
    DrillObligation,
    EventKind,
    ImprovementPlan,
    SendingProfile,
)

AGENCIES = [
    "Taiwan Power Company (demo)",
    "Centers for Disease Control",
    "Water Resources Agency",
    "CPC Corporation (demo)",
    "Administration for Digital Industries",
]
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
SCANNER = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
PER_AGENCY = 24
# (opened, clicked, submitted, reported) share of people, per agency and campaign.
BEHAVIOUR = {
    "H1": [(0.30, 0.15, 0.08, 0.10), (0.12, 0.05, 0.02, 0.20), (0.40, 0.25, 0.12, 0.05),
           (0.08, 0.04, 0.0, 0.30), (0.20, 0.10, 0.04, 0.12)],
    "H2": [(0.12, 0.04, 0.0, 0.25), (0.10, 0.04, 0.0, 0.30), (0.30, 0.12, 0.08, 0.10),
           (0.06, 0.0, 0.0, 0.40), (0.09, 0.05, 0.0, 0.20)],
    "DEC": [(0.10, 0.04, 0.0, 0.12), (0.05, 0.0, 0.0, 0.10), (0.15, 0.08, 0.04, 0.04),
            (0.05, 0.0, 0.0, 0.20), (0.04, 0.04, 0.0, 0.08)],
}  # fmt: skip


def _csv(orgs: list[Organisation]) -> str:
    lines = ["email,organisation,name,department,language"]
    for org in orgs:
        slug = "".join(ch for ch in (org.short_name or org.name).lower() if ch.isalnum())
        for i in range(PER_AGENCY):
            language = "en" if i % 4 == 0 else "zh-hant"
            lines.append(
                f"staff{i:02d}@{slug}.example,{org.name},Staff {i:02d},Unit {i % 3},{language}"
            )
    return "\n".join(lines) + "\n"


def _campaign(analyst: User, profile: SendingProfile, orgs: list[Organisation], name: str,
              starts: datetime, previous: Campaign | None = None) -> Campaign:  # fmt: skip
    campaign = services.create_campaign(
        analyst, organisations=orgs, name=name, previous=previous, starts_at=starts,
        subject_en="Action required: your mailbox is almost full",
        subject_zh_hant="請處理：您的信箱容量即將額滿",
        body_en="Dear {{name}},\n\nYour mailbox is 98% full. Release space here: {{link}}\n\nIT Service Desk",
        body_zh_hant="{{name}} 您好\n\n您的信箱已使用 98%，請由此釋放空間 {{link}}\n\n資訊服務台",
        landing_en="Sign in with your agency account to release mailbox space.",
        landing_zh_hant="請以機關帳號登入以釋放信箱空間。",
        attachment_name="mailbox-policy.html", tracking_domain="mailbox-check.demo.example",
        sending_profile=profile, spread_days=3,
    )  # fmt: skip
    result = services.import_recipients(analyst, campaign, _csv(orgs))
    assert not result.errors, result.errors
    return services.launch(analyst, campaign)


def _play(campaign: Campaign, key: str, start: datetime, share: float = 1.0) -> None:
    """Deliver and track the campaign as people and scanners would have, from `start`."""
    rng = random.Random(f"{campaign.name}")  # noqa: S311  (demo data)
    orgs = list(campaign.participants.order_by("pk").values_list("organisation_id", flat=True))
    for index, org_id in enumerate(orgs):
        opened, clicked, submitted, reported = BEHAVIOUR[key][index % len(BEHAVIOUR[key])]
        people = list(campaign.recipients.filter(organisation_id=org_id).order_by("pk"))
        people = people[: max(1, int(len(people) * share))]
        for n, person in enumerate(people):
            sent = start + timedelta(minutes=17 * n + index * 5, seconds=rng.randint(0, 600))
            services.record_outcome(person, at=sent)
            person.sent_at = sent
            if n % 6 == 0:  # the agency's mail gateway clicks every link as it arrives
                services.record_hit(person.token, EventKind.CLICKED, agent=SCANNER,
                                    ip="148.163.130.7", at=sent + timedelta(seconds=2))  # fmt: skip
            fraction = n / len(people)
            at = sent + timedelta(minutes=rng.randint(3, 300))
            if fraction < reported:
                services.record_report(person.token, at=at)
                at += timedelta(minutes=5)
            if fraction < opened:
                services.record_hit(
                    person.token, EventKind.OPENED, agent=BROWSER, ip="203.0.113.10", at=at
                )
            if fraction < clicked:
                services.record_hit(person.token, EventKind.CLICKED, agent=BROWSER,
                                    ip="203.0.113.10", at=at + timedelta(minutes=1))  # fmt: skip
                services.record_hit(person.token, EventKind.PAGE, agent=BROWSER,
                                    ip="203.0.113.10", at=at + timedelta(minutes=1, seconds=4))  # fmt: skip
            if fraction < submitted:
                services.record_hit(person.token, EventKind.SUBMITTED, agent=BROWSER,
                                    ip="203.0.113.10", at=at + timedelta(minutes=2))  # fmt: skip


def _calendar(analyst: User, orgs: list[Organisation], now: datetime) -> None:
    year = now.year
    for index, org in enumerate(orgs):
        level = "A" if index % 2 == 0 else "B"
        services.plan_calendar(analyst, org, level=level, year=year)
    first_half = DrillObligation.objects.filter(kind="social_engineering", period_start__month=1)
    states = {  # H1 social-engineering drill: done, late, missing, done, late
        0: (timedelta(days=-30), timedelta(days=-10)),
        1: (timedelta(days=12), timedelta(days=20)),
        2: None,
        3: (timedelta(days=-45), timedelta(days=-30)),
        4: (timedelta(days=-5), timedelta(days=40)),
    }
    for index, org in enumerate(orgs):
        obligation = first_half.filter(organisation=org).first()
        plan = states[index]
        if obligation is None or plan is None or obligation.due_at + plan[1] > now:
            continue
        obligation.held_at = obligation.due_at + plan[0]
        obligation.results_at = obligation.due_at + plan[1]
        obligation.save(update_fields=["held_at", "results_at"])


@transaction.atomic
def load() -> int:
    if Campaign.objects.filter(name__startswith="[demo]").exists():
        return 0
    analyst = User.objects.get(username="analyst")
    # In the list's order, not by name: collations sort names differently (SQLite, PostgreSQL).
    orgs = sorted(
        Organisation.objects.filter(name__in=AGENCIES), key=lambda o: AGENCIES.index(o.name)
    )
    if not orgs:
        return 0
    profile, _created = SendingProfile.objects.get_or_create(
        name="Drill relay (demo)",
        defaults={"from_address": "IT Service Desk <it-desk@mailbox-check.demo.example>"},
    )
    now = timezone.now()
    h1_start = now - timedelta(days=200)
    h1 = _campaign(analyst, profile, orgs, "[demo] H1 mailbox full", h1_start)
    _play(h1, "H1", h1_start)
    services.finish(analyst, h1)
    h2_start = now - timedelta(days=40)
    h2 = _campaign(analyst, profile, orgs, "[demo] H2 mailbox full", h2_start, previous=h1)
    _play(h2, "H2", h2_start)
    services.finish(analyst, h2)
    filed: list[ImprovementPlan] = []
    for plan in ImprovementPlan.objects.filter(campaign=h2).order_by("organisation_id"):
        filer = User.objects.filter(
            memberships__organisation=plan.organisation,
            memberships__role__in=["org_admin", "reporter"],
        ).first()
        if filer is not None and len(filed) < 2:
            measures = "Awareness training for every person who clicked; an outside-mail banner."
            filed.append(services.file_plan(filer, plan, measures=measures))
    if filed:
        services.close_plan(analyst, filed[0], note="Training held; banner in place.")
    running = _campaign(analyst, profile, orgs, "[demo] December invoice", now - timedelta(days=1),
                        previous=h2)  # fmt: skip
    _play(running, "DEC", now - timedelta(hours=20), share=0.5)
    _calendar(analyst, orgs, now)
    tpc = Organisation.objects.get(name="Taiwan Power Company (demo)")
    notice = services.send_notice(
        User.objects.get(username="duty"), tpc,
        scenario="Drill: a ransom note appears on the billing file server at 09:00.",
        rsit_class="malicious-code", rsit_type="infected-system",
        obligation=DrillObligation.objects.filter(organisation=tpc, kind="incident_response").first(),
    )  # fmt: skip
    services.report_drill(
        User.objects.get(username="reporter"), notice, title="Drill: ransomware on billing server",
        description="Drill: files on FS-BILL-01 encrypted; server isolated.",
    )  # fmt: skip
    exercises_demo.load(analyst, User.objects.get(username="duty"), orgs, now)
    return 3
