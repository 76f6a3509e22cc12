"""Demo exercises, loaded with the drills demo through the services: one ended
national tabletop exercise with responses, scores, an after-action report and
improvement items (open, in progress, done), and one running technical exercise
with an inject delivered and one still to come."""

from datetime import datetime, timedelta

from django.db.models import QuerySet

from bulwark.constituency.models import Organisation, User
from bulwark.drills.exercises import services
from bulwark.drills.models import Exercise, ExerciseTeam, Inject

LESSONS = """## What went well
- Every team notified the CERT within the hour.
- The grid operator isolated the affected substation network in 40 minutes.

## What to improve
- Offline backups were untested at two agencies.
- Press lines were not agreed in advance: two agencies answered the journalist differently.
"""


def _player(org: Organisation) -> User | None:
    people: QuerySet[User] = User.objects.filter(
        memberships__organisation=org, memberships__role__in=["org_admin", "reporter"],
        is_active=True,
    )  # fmt: skip
    return people.order_by("pk").first()


def _at(exercise: Exercise, when: datetime) -> None:
    """Put a demo run back in time (its start and its deliveries)."""
    Exercise.objects.filter(pk=exercise.pk).update(
        started_at=when, planned_start=when
    )  # demo data: the services stamp "now"
    for inject in Inject.objects.filter(exercise=exercise, delivered_at__isnull=False):
        Inject.objects.filter(pk=inject.pk).update(
            delivered_at=when + timedelta(minutes=inject.offset_minutes)
        )


def load(analyst: User, evaluator: User, orgs: list[Organisation], now: datetime) -> int:
    if Exercise.objects.filter(title__startswith="[demo]").exists() or len(orgs) < 3:
        return 0
    ended = services.create_exercise(
        analyst, organisations=orgs[:4], control_team=[analyst], evaluators=[evaluator],
        title="[demo] Ransomware on the grid (tabletop)", kind="tabletop", scope="national",
        role="held", planned_start=now - timedelta(days=30),
        scenario_en="## Scenario\n\nAt 09:00 a ransom note appears on the billing servers of "
        "the power company; by 10:00 the water agency reports the same note. Work through "
        "detection, notification, containment and communication.",
        scenario_zh_hant="## 情境\n\n上午 9 時，電力公司的帳務伺服器出現勒索訊息；10 時水利機關"
        "回報相同訊息。請依序討論偵測、通報、圍堵與對外溝通。",
    )  # fmt: skip
    first = services.add_inject(
        analyst, ended, title="Ransom note on the billing servers", offset_minutes=0,
        body_en="Screens show a ransom note; file shares are encrypted.",
        body_zh_hant="螢幕出現勒索訊息，檔案分享已被加密。", channel=Inject.Channel.EMAIL,
        expectations=[("manual", "Notify the CERT within one hour", 100),
                      ("detection", "Identify the first infected host", 50)],
    )  # fmt: skip
    second = services.add_inject(
        analyst, ended, title="A journalist calls", offset_minutes=45,
        body_en="A newspaper asks whether customer data was stolen.",
        body_zh_hant="報社詢問客戶資料是否外洩。",
        expectations=[("manual", "Give the agreed press line", 50)],
    )  # fmt: skip
    services.start(analyst, ended)
    services.deliver(analyst, second)
    answers = [
        ("Reported to the CERT at 09:20; incident ticket opened.", "Host FS-BILL-01 from EDR."),
        ("Reported at 09:55 by phone, then on the platform.", "Not found during the exercise."),
        ("Reported at 09:35.", "FS-02 identified from the proxy logs."),
        ("Reported at 10:40.", "Not found."),
    ]
    points = [(100, 50, 40), (80, 10, 20), (90, 40, 50), (40, 0, 10)]
    for index, org in enumerate(orgs[:4]):
        team = ExerciseTeam.objects.get(exercise=ended, organisation=org)
        player = _player(org)
        manual, detection = first.expectations.order_by("pk")
        press = second.expectations.get()
        if player is not None:
            services.respond(player, manual, team, text=answers[index][0])
            services.respond(player, detection, team, text=answers[index][1])
            services.respond(player, press, team, text="No customer data is known to be affected.")
        got = points[index]
        services.score(
            evaluator,
            manual,
            team,
            points=got[0],
            comment="Clock met." if got[0] >= 80 else "Late.",
        )
        services.score(evaluator, detection, team, points=got[1])
        services.score(evaluator, press, team, points=got[2])
    services.end(analyst, ended)
    services.write_lessons(analyst, ended, lessons=LESSONS)
    services.publish_report(analyst, ended)
    due = (now + timedelta(days=60)).date()
    items = [
        services.add_item(analyst, ended, organisation=orgs[1], title="Test restoring the offline backups",
                          owner=_player(orgs[1]), due_on=due),
        services.add_item(analyst, ended, organisation=orgs[3], title="Agree press lines with the authority",
                          owner=_player(orgs[3]), due_on=due),
        services.add_item(analyst, ended, organisation=orgs[0], title="EDR on every billing server",
                          owner=_player(orgs[0]), due_on=(now - timedelta(days=5)).date()),
    ]  # fmt: skip
    services.update_item(analyst, items[0], state="in_progress", note="Restore test booked.")
    services.update_item(analyst, items[2], state="done", note="Deployed on 14 servers.")
    _at(ended, now - timedelta(days=30))
    Exercise.objects.filter(pk=ended.pk).update(
        ended_at=now - timedelta(days=30) + timedelta(hours=3),
        reported_at=now - timedelta(days=20),
    )

    running = services.create_exercise(
        analyst, organisations=orgs[:3], control_team=[analyst], evaluators=[evaluator],
        title="[demo] Phishing to OT (technical)", kind="technical", scope="national",
        role="held", planned_start=now - timedelta(minutes=20),
        scenario_en="A spear-phishing mail leads to a VPN login from abroad, then to the OT "
        "network. Detect and block each step; evaluators confirm in your logs.",
        scenario_zh_hant="魚叉式釣魚郵件導致境外 VPN 登入，進而進入 OT 網路。請偵測並阻擋每一步，"
        "評核員將於日誌中確認。",
    )  # fmt: skip
    services.add_inject(
        analyst, running, title="Phishing mail delivered", offset_minutes=0,
        body_en="A mail 'VPN certificate renewal' reached 30 staff.",
        body_zh_hant="「VPN 憑證更新」郵件已寄達 30 位同仁。",
        expectations=[("detection", "Detect the phishing mail", 50),
                      ("prevention", "Block the sender domain", 50)],
    )  # fmt: skip
    services.add_inject(
        analyst, running, title="VPN login from abroad", offset_minutes=60,
        body_en="A VPN login for a staff account comes from an unusual country.",
        body_zh_hant="某同仁帳號自異常國家登入 VPN。",
        expectations=[("manual", "Disable the account and report", 100)],
    )  # fmt: skip
    services.start(analyst, running)
    _at(running, now - timedelta(minutes=20))
    return 2
