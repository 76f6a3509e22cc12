"""Demo training (loaded by `bulwark demo`, idempotent, through the services): three
courses with exams written by the CERT, the learners of two demo agencies with a year of
records in every compliance state (met, behind, missed last year, and an agency whose
level has no rule), one learner who passed an exam with a certificate, and a past
competition with results imported from a CTFd export."""

import io
import json
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from bulwark.constituency.models import Organisation, User
from bulwark.training import services
from bulwark.training.models import Competition, Course, Exam, Learner

LEARNER_PASSWORD = "demo-learner-2026"
POWER = "Taiwan Power Company (demo)"
CDC = "Centers for Disease Control"


def _tf(text: str, zh: str, answer: bool) -> dict[str, Any]:
    return {"kind": "true_false", "text": text, "text_zh_hant": zh, "options": [
        {"id": "true", "text": "True", "text_zh_hant": "是", "correct": answer},
        {"id": "false", "text": "False", "text_zh_hant": "否", "correct": not answer}]}  # fmt: skip


def _single(text: str, zh: str, options: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {"kind": "single", "text": text, "text_zh_hant": zh, "options": [
        {"id": chr(97 + i), "text": t, "text_zh_hant": z, "correct": c}
        for i, (t, z, c) in enumerate(options)]}  # fmt: skip


def _multiple(text: str, zh: str, options: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {**_single(text, zh, options), "kind": "multiple"}


COURSES: list[dict[str, Any]] = [
    {
        "code": "awareness-2026", "title": "Security awareness for all staff",
        "title_zh_hant": "全體同仁資安認知", "hours": Decimal(3), "hours_kind": "general",
        "summary": "Phishing, passwords, reporting: what every member of staff needs.",
        "summary_zh_hant": "社交工程、密碼與通報：每位同仁都需要知道的事。",
        "lessons": [
            ("Recognising phishing", "辨識釣魚郵件",
             "## Signs of phishing\n\n- urgency and threats\n- a sender you do not expect\n"
             "- links whose address differs from the text\n\nWhen in doubt, **report** it.",
             "## 釣魚郵件的徵兆\n\n- 急迫與威脅\n- 意料之外的寄件者\n- 連結網址與文字不同\n\n有疑慮就**通報**。"),
            ("Passwords and second factors", "密碼與第二因子",
             "Use a password manager and a second factor (an authenticator app or a key).",
             "使用密碼管理工具與第二因子（驗證器 App 或安全金鑰）。"),
        ],
        "questions": [
            _single("An e-mail asks you to pay an invoice today or lose service. What do you do?",
                    "郵件要求今天付款否則停止服務，該怎麼做？",
                    [("Pay quickly", "立即付款", False), ("Report it to the security officer", "通報資安人員", True),
                     ("Forward it to colleagues", "轉寄給同事", False)]),
            _tf("You may share your password with the IT helpdesk by e-mail.", "可以用電子郵件把密碼告訴資訊服務台。", False),
            _multiple("Which are second factors?", "下列何者是第二因子？",
                      [("An authenticator app", "驗證器 App", True), ("A security key", "安全金鑰", True),
                       ("Your date of birth", "你的生日", False)]),
            _tf("A USB stick found in the car park is safe to plug in.", "停車場撿到的隨身碟可以直接插上電腦。", False),
            _single("Where do you report a suspected incident?", "疑似資安事件應向誰通報？",
                    [("The agency's security officer", "機關資安人員", True), ("Nobody", "不用通報", False)]),
            _tf("Locking your screen when you leave your desk is required.", "離開座位時應鎖定螢幕。", True),
        ],
    },
    {
        "code": "incident-reporting", "title": "Incident reporting and response",
        "title_zh_hant": "資安事件通報與應變", "hours": Decimal(3), "hours_kind": "professional",
        "summary": "The statutory clocks, the levels and what a report holds.",
        "summary_zh_hant": "法定時限、事件等級與通報內容。",
        "lessons": [
            ("Levels and clocks", "等級與時限",
             "A level 3 or 4 incident is reported within **1 hour** of awareness.",
             "第三、四級事件應於知悉後 **1 小時**內通報。"),
            ("Writing the report", "撰寫通報", "Say what happened, when, which systems, what you did.",
             "說明發生什麼事、何時、哪些系統、已採取的措施。"),
        ],
        "questions": [
            _single("Within how long is a level 4 incident reported?", "第四級事件應於多久內通報？",
                    [("1 hour", "1 小時", True), ("1 day", "1 天", False), ("1 week", "1 週", False)]),
            _tf("Drill incidents are counted with real ones.", "演練事件與真實事件合併計算。", False),
            _multiple("What does a first report hold?", "初報應包含？",
                      [("What happened", "事件經過", True), ("Affected systems", "受影響系統", True),
                       ("The attacker's home address", "攻擊者住址", False)]),
            _tf("The supervising authority reviews the agency's report.", "上級機關會審核機關的通報。", True),
            _single("Who closes the incident?", "誰結案？",
                    [("After the response report is accepted", "應變報告核可後", True), ("Anyone", "任何人", False)]),
            _tf("Evidence should be kept with its chain of custody.", "證據應保留監管鏈。", True),
        ],
    },
    {
        "code": "secure-config-it", "title": "Secure configuration for IT staff",
        "title_zh_hant": "資訊人員安全組態", "hours": Decimal(6), "hours_kind": "professional",
        "summary": "Hardening servers and network devices; patch management.",
        "summary_zh_hant": "伺服器與網路設備強化；修補管理。",
        "lessons": [
            ("Hardening baselines", "強化基準", "Start from a published baseline and record exceptions.",
             "從公開的基準出發並記錄例外。"),
            ("Patch management", "修補管理", "Known exploited vulnerabilities come first.",
             "已知遭利用的漏洞優先修補。"),
        ],
        "questions": [
            _tf("Default administrator passwords may stay if the device is internal.", "內部設備可保留預設管理密碼。", False),
            _single("Which vulnerabilities are patched first?", "哪些漏洞優先修補？",
                    [("Known exploited ones", "已知遭利用者", True), ("The oldest ones", "最舊的", False)]),
            _multiple("Which reduce the attack surface?", "下列何者可減少攻擊面？",
                      [("Disabling unused services", "停用不用的服務", True), ("Network segmentation", "網段隔離", True),
                       ("Sharing admin accounts", "共用管理帳號", False)]),
            _tf("Configuration changes should be logged.", "組態變更應留存紀錄。", True),
            _tf("Remote administration should be open to the internet.", "遠端管理介面應開放網際網路。", False),
            _single("A baseline exception is…", "基準例外應…",
                    [("recorded with its reason", "記錄原因", True), ("kept secret", "保密不記錄", False)]),
        ],
    },
]  # fmt: skip

# (staff id, name, role, records [(years ago, kind, hours)])
POWER_STAFF = [
    ("TP-001", "Chen Mei-ling", "security_staff", [(0, "professional", "12")]),
    ("TP-002", "Lin Chih-hao", "security_staff", [(0, "professional", "6"), (1, "professional", "12")]),
    ("TP-003", "Wang Shu-fen", "it_staff", [(1, "professional", "3"), (0, "general", "3")]),
    ("TP-004", "Huang Wei", "it_staff", [(0, "professional", "3")]),
    ("TP-005", "Chang Ya-ting", "general", [(0, "general", "3"), (1, "general", "3")]),
    ("TP-006", "Liu Chun", "general", [(0, "general", "1.5")]),
    ("TP-007", "Tsai Hsin-yi", "general", [(1, "general", "1")]),
    ("TP-008", "Yang Kuo-ming", "supervisor", [(0, "general", "3")]),
    ("TP-009", "Hsu Pei-chi", "supervisor", []),
    ("TP-010", "Kuo Jun", "it_staff", [(0, "professional", "3"), (0, "general", "3")]),
]  # fmt: skip
CDC_STAFF = [
    ("CDC-01", "Wu Li-hua", "general", [(0, "general", "2")]),
    ("CDC-02", "Cheng Hao", "it_staff", []),
]


def _ctfd_export(now: Any) -> bytes:
    """A CTFd export (the zip its admin panel writes) of the demo competition's scoreboard."""
    day = (now - timedelta(days=60)).strftime("%Y-%m-%d")

    def table(rows: list[dict[str, Any]]) -> bytes:
        return json.dumps({"count": len(rows), "results": rows, "meta": {}}).encode()

    users = [
        {"id": i, "name": n, "email": e, "type": "user", "hidden": False, "banned": False,
         "affiliation": a, "country": "TW", "team_id": None}
        for i, n, e, a in [(2, "night-owls", "hsu@school.demo", "Taipei First Girls High"),
                           (3, "gridguard", "tp-001@taipower.demo", POWER),
                           (4, "packetpal", "lee@public.demo", ""),
                           (5, "cdc-blue", "cdc-01@cdc.demo", CDC)]
    ]  # fmt: skip
    challenges = [{"id": i, "name": f"Challenge {i}", "value": v, "state": "visible",
                   "category": "forensics"} for i, v in [(1, 100), (2, 200), (3, 300)]]  # fmt: skip
    solves, subs = [], []
    for sid, (cid, uid, hour) in enumerate(
        [(1, 2, 9), (2, 2, 10), (3, 2, 11), (1, 3, 9), (2, 3, 12), (1, 4, 10), (1, 5, 13)], 1
    ):
        solves.append({"id": sid, "challenge_id": cid, "user_id": uid, "team_id": None})
        subs.append({"id": sid, "challenge_id": cid, "user_id": uid, "team_id": None,
                     "type": "correct", "date": f"{day}T{hour:02d}:00:00"})  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, rows in (
            ("users", users),
            ("teams", []),
            ("challenges", challenges),
            ("solves", solves),
            ("submissions", subs),
            ("awards", []),
            (
                "config",
                [
                    {"id": 1, "key": "user_mode", "value": "users"},
                    {"id": 2, "key": "ctf_name", "value": "Demo Cup"},
                ],
            ),
        ):
            archive.writestr(f"db/{name}.json", table(rows))  # fmt: skip
    return buffer.getvalue()


@transaction.atomic
def load() -> None:
    if Course.objects.filter(code=COURSES[0]["code"]).exists():
        return
    analyst = User.objects.get(username="analyst")
    orgadmin = User.objects.get(username="orgadmin")
    cert = Organisation.objects.get(kind="national_cert")
    power = Organisation.objects.get(name=POWER)
    cdc = Organisation.objects.get(name=CDC)
    courses = []
    for spec in COURSES:
        spec = dict(spec)
        lessons, questions = spec.pop("lessons"), spec.pop("questions")
        course = services.create_course(analyst, cert, **spec)
        for position, (title, title_zh, body, body_zh) in enumerate(lessons, 1):
            services.add_lesson(analyst, course, position=position, title=title,
                                title_zh_hant=title_zh, body=body, body_zh_hant=body_zh)  # fmt: skip
        exam = services.set_exam(analyst, course, questions_per_attempt=5, pass_mark=80,
                                 time_limit_minutes=20, max_attempts=3, retake_wait_hours=0)  # fmt: skip
        for question in questions:
            services.add_question(analyst, exam, **question)
        services.publish_course(analyst, course)
        courses.append(course)
    courses[2].prerequisites.add(courses[0])
    # CDC is set to level D here: the published rules are level B's, so its staff show
    # "no requirement" until the profile holds level D.
    services.set_agency_level(analyst, cdc, "D")
    services.set_agency_level(analyst, power, "B")
    today = timezone.localdate()
    for org, domain, staff in ((power, "taipower.demo", POWER_STAFF), (cdc, "cdc.demo", CDC_STAFF)):
        admin = orgadmin if org == power else analyst
        for staff_id, name, role, records in staff:
            learner = services.add_learner(
                admin, org, staff_id=staff_id, name=name, email=f"{staff_id.lower()}@{domain}",
                role=role, password=LEARNER_PASSWORD,
            )  # fmt: skip
            for index, (ago, kind, hours) in enumerate(records):
                services.add_record(
                    learner, completed_on=date(today.year - ago, 3 + index, 15),
                    hours=Decimal(hours), kind=kind, title="Government e-learning course",
                    provider="e-learning portal (demo)", source="import",
                    external_id=f"demo-{staff_id}-{index}",
                )  # fmt: skip
    # A saved column mapping for a portal whose export has Chinese column names.
    services.save_mapping(orgadmin, power, "e等公務園 (demo)", email="電子郵件", staff_id="員工編號",
                          title="課程名稱", date="完成日期", hours="時數", kind="類別",
                          provider="開課單位", record_id="編號", professional="專業;專業課程",
                          general="通識;一般")  # fmt: skip
    services.enrol(orgadmin, courses[0], power, everyone=True)
    services.enrol(orgadmin, courses[1], power, role="security_staff")
    services.enrol(orgadmin, courses[2], power, role="it_staff")
    services.enrol(analyst, courses[0], cdc, everyone=True)
    # One learner has passed the awareness exam (certificate issued).
    passer = Learner.objects.get(staff_id="TP-005")
    exam = Exam.objects.get(course=courses[0])
    attempt = services.start_attempt(passer, exam)
    for revision, question in enumerate(exam.questions.filter(pk__in=attempt.question_ids), 1):
        right = [o["id"] for o in question.options if o["correct"]]
        services.save_answer(passer, attempt.pk, question.pk, right, revision)
    services.finish_attempt(passer, attempt)
    # A past competition with its results from CTFd.
    now = timezone.now()
    cup = services.create_competition(
        analyst, cert, slug="demo-cup", name="Cyber Defence Cup (demo)",
        name_zh_hant="資安盃（示範）", starts_at=now - timedelta(days=60),
        ends_at=now - timedelta(days=59), registration_open=True,
        ctfd_url="https://ctf.example.org/",
    )  # fmt: skip
    services.register_participant(cup, name="Hsu Jia", email="hsu@school.demo", category="school",
                                  school="Taipei First Girls High", region="Taipei")  # fmt: skip
    services.register_participant(cup, name="Chen Mei-ling", email="tp-001@taipower.demo",
                                  category="agency", organisation=power, region="Taipei")  # fmt: skip
    services.register_participant(cup, name="Lee An", email="lee@public.demo", category="public",
                                  region="Kaohsiung")  # fmt: skip
    services.register_participant(cup, name="Wu Li-hua", email="cdc-01@cdc.demo",
                                  category="agency", organisation=cdc, region="Taipei")  # fmt: skip
    Competition.objects.filter(pk=cup.pk).update(registration_open=False)
    services.import_ctfd_results(analyst, cup, _ctfd_export(now))
