"""One permission vocabulary (issue 21): `can(user, action, obj)` answers what the service
behind the action enforces, for every declared action, every person of the test world
and a representative object; a typo in an action's name is an error, never a silent
answer; and no module grows its own permission helper again."""

import ast
import contextlib
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from bulwark.advisories import services as advisories
from bulwark.advisories.models import Status, Target
from bulwark.advisories.tests.world import World
from bulwark.analytics import services as analytics_services
from bulwark.conftest import sign_in
from bulwark.constituency import services as constituency
from bulwark.constituency.models import Membership, OrganisationKind, User
from bulwark.core import permissions
from bulwark.core.permissions import UnknownAction, can, require
from bulwark.drills import services as drills
from bulwark.drills.exercises import services as exercises
from bulwark.drills.models import (
    Campaign,
    DrillNotice,
    DrillObligation,
    Exercise,
    ExerciseTeam,
    Expectation,
    ImprovementItem,
    ImprovementPlan,
    Inject,
    SendingProfile,
)
from bulwark.exchange import services as exchange
from bulwark.findings import services as findings
from bulwark.incidents import services as incidents
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import SavedFilter
from bulwark.intel import services as intel
from bulwark.intel.models import Collection, StixObject
from bulwark.monitoring import services as monitoring
from bulwark.monitoring.models import Alert
from bulwark.sso import services as sso
from bulwark.training import services as training

SRC = Path(__file__).resolve().parents[2]
PEOPLE = [
    "analyst",
    "duty",
    "admin",
    "reviewer",
    "bureau_admin",
    "bureau_reporter",
    "power_reporter",
    "other_reporter",
    "nobody",
]


class _Undo(Exception):
    """Rolls an attempt back: the matrix only asks whether the service lets it through."""


class Things:
    """The representative objects, made once per test world."""

    def __init__(self, w: World) -> None:
        self.w = w
        now = timezone.now()
        self.incident = incidents.report_incident(
            w.bureau_reporter,
            w.bureau,
            title="Web defacement",
            description="Home page replaced.",
            rsit_class="intrusions",
            rsit_type="application-compromise",
            aware_at=now - timedelta(minutes=30),
            answers=Answers(integrity="minor"),
        )
        self.task = incidents.add_task(
            w.bureau_reporter,
            self.incident,
            title="Restore the page",
            owner=w.bureau_reporter,
            due_at=now + timedelta(days=1),
        )
        self.saved = SavedFilter.objects.create(
            user=w.bureau_reporter, name="mine", query="status=new"
        )
        self.lea = constituency.create_organisation(
            None, name="Police", kind=OrganisationKind.LEA, country="TW"
        )
        self.collection = Collection.objects.create(title="Community", requires_review=False)
        stix_id = f"indicator--{uuid.uuid4()}"
        intel.ingest_objects(
            w.analyst,
            self.collection,
            [
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": stix_id,
                    "created": "2026-01-01T00:00:00.000Z",
                    "modified": "2026-01-02T00:00:00.000Z",
                    "name": "Bad 198.51.100.7",
                    "pattern": "[ipv4-addr:value = '198.51.100.7']",
                    "pattern_type": "stix",
                    "valid_from": "2026-01-01T00:00:00Z",
                }
            ],
            raw="{}",
        )
        self.stix_id = stix_id
        self.alert = Alert.objects.create(
            organisation=w.bureau,
            indicator_type="ipv4",
            indicator="198.51.100.7",
            first_seen=now,
            last_seen=now,
        )
        pending = w.draft()
        self.pending = advisories.submit(w.analyst, pending)
        sent = w.sent(target_organisations=[w.bureau])
        self.target = Target.objects.get(advisory=sent, organisation=w.bureau)
        self.token_owner = w.bureau_reporter
        assert self.pending.status == Status.PENDING
        profile = SendingProfile.objects.create(name="Drill", from_address="it@drill.example")
        campaign = Campaign.objects.create(
            name="Drill", created_by=w.analyst, sending_profile=profile, starts_at=now,
            tracking_domain="t.example", state=Campaign.State.FINISHED,
        )  # fmt: skip
        self.drill_plan = ImprovementPlan.objects.create(
            campaign=campaign, organisation=w.bureau, due_at=now
        )
        self.drill_notice = DrillNotice.objects.create(
            organisation=w.bureau, scenario="Ransomware", rsit_class="malicious-code",
            rsit_type="infected-system", sent_by=w.analyst, sent_at=now,
        )  # fmt: skip
        self.obligation = DrillObligation.objects.create(
            organisation=w.bureau, kind="social_engineering", level="A",
            period_start=now.date(), due_at=now,
        )  # fmt: skip
        # An exercise (drills): the analyst in its control team, the duty officer an
        # evaluator, the Bureau a team, an improvement item the Bureau's reporter owns.
        self.exercise = Exercise.objects.create(
            title="Tabletop", kind="tabletop", scope="national", role="held",
            scenario_en="Ransomware", planned_start=now, created_by=w.analyst,
        )  # fmt: skip
        self.exercise.control_team.set([w.analyst])
        self.exercise.evaluators.set([w.duty])
        self.exercise_team = ExerciseTeam.objects.create(
            exercise=self.exercise, organisation=w.bureau
        )
        inject = Inject.objects.create(
            exercise=self.exercise, title="Note", body_en="Ransom note", offset_minutes=0
        )
        inject.teams.set([self.exercise_team])
        self.expectation = Expectation.objects.create(
            inject=inject, kind="manual", description="Notify"
        )
        self.exercise_item = ImprovementItem.objects.create(
            exercise=self.exercise, organisation=w.bureau, title="Backups",
            owner=w.bureau_reporter, due_on=now.date(), created_by=w.analyst,
        )  # fmt: skip
        self.engagement = findings.create_engagement(
            w.analyst, w.bureau, kind="pentest", title="Pentest"
        )
        self.finding = findings.add_manual_finding(
            w.analyst, self.engagement, title="Weak TLS", severity="medium", host="www.bureau"
        )
        self.acceptance = findings.request_risk_acceptance(
            w.bureau_reporter,
            self.finding,
            reason="Legacy system.",
            expires_on=timezone.localdate() + timedelta(days=30),
        )


def _user_refused(attempt: Callable[[], Any]) -> Callable[[], Any]:
    """`add_membership` answers a user the admin may not attach on the field, not with
    PermissionDenied (the same answer as an unknown username)."""

    def run() -> Any:
        try:
            return attempt()
        except ValidationError as exc:
            if "user" in getattr(exc, "error_dict", {}):
                raise PermissionDenied from exc
            raise

    return run


def _audit_page(u: User) -> None:
    response = sign_in(Client(), u).get("/audit/")
    if response.status_code == 403:
        raise PermissionDenied
    assert response.status_code == 200


# action -> cases: (label, the object `can` is asked about, what the service is asked to do).
# Each is a function of (things, user) so an object may depend on who asks (what they see).
Case = tuple[str, Callable[[Things, User], Any], Callable[[Things, User], Any]]
MEMBER = "reporter"


def _rows(t: Things, u: User) -> Any:
    return StixObject.objects.visible_to(u).filter(collection=t.collection, stix_id=t.stix_id)


CASES: dict[str, list[Case]] = {
    "constituency.manage": [
        (
            "deactivate",
            lambda t, u: None,
            lambda t, u: constituency.set_user_active(u, t.w.nobody, True),
        ),
        (
            "invite outside an organisation",
            lambda t, u: None,
            lambda t, u: constituency.invite_member(u, None, email="x@example.org", role=""),
        ),
    ],
    "organisation.create": [
        ("create", lambda t, u: None, lambda t, u: constituency.create_organisation(u))
    ],
    "organisation.edit": [
        (
            "edit",
            lambda t, u: t.w.bureau,
            lambda t, u: constituency.update_organisation(u, t.w.bureau),
        )
    ],
    "organisation.manage_networks": [
        (
            "claim",
            lambda t, u: t.w.bureau,
            lambda t, u: constituency.add_network(u, t.w.bureau, "cidr", "192.0.2.0/24"),
        )
    ],
    "organisation.manage_contacts": [
        (
            "contact",
            lambda t, u: t.w.bureau,
            lambda t, u: constituency.add_contact(u, t.w.bureau),
        )
    ],
    "membership.manage": [
        (
            "grant a member role",
            lambda t, u: Membership(organisation=t.w.bureau, role=MEMBER),
            lambda t, u: constituency.add_membership(u, t.w.bureau_reporter, t.w.bureau, MEMBER),
        ),
        (
            "grant a CERT role",
            lambda t, u: Membership(organisation=t.w.cert, role="analyst"),
            lambda t, u: constituency.add_membership(u, t.w.nobody, t.w.cert, "analyst"),
        ),
        (
            "revoke",
            lambda t, u: Membership.objects.get(user=t.w.bureau_reporter),
            lambda t, u: constituency.remove_membership(
                u, Membership.objects.get(user=t.w.bureau_reporter)
            ),
        ),
        (
            "whose members",
            lambda t, u: t.w.bureau,
            lambda t, u: constituency.invite_member(u, t.w.bureau, email="x@example.org", role=""),
        ),
    ],
    "user.attach": [
        (
            f"attach {who}",
            lambda t, u, who=who: getattr(t.w, who),
            lambda t, u, who=who: _user_refused(
                lambda: constituency.add_membership(u, getattr(t.w, who), t.w.bureau, MEMBER)
            )(),
        )
        for who in ("power_reporter", "bureau_admin")
    ],
    "user.manage": [
        (
            "create",
            lambda t, u: None,
            lambda t, u: constituency.create_user(u, username="new", email="new@example.org"),
        ),
        (
            "create a superuser",
            lambda t, u: User(is_superuser=True),
            lambda t, u: constituency.create_user(
                u, username="new", email="new@example.org", is_superuser=True
            ),
        ),
    ],
    "audit.read": [("page", lambda t, u: None, lambda t, u: _audit_page(u))],
    "apitoken.manage": [
        (
            "mint for a reporter",
            lambda t, u: t.token_owner,
            lambda t, u: constituency.create_api_token(u, t.token_owner, name="t", scopes=[]),
        )
    ],
    "user.reset_second_factor": [
        (
            "reset a reporter's",
            lambda t, u: t.w.bureau_reporter,
            lambda t, u: constituency.reset_second_factor(u, t.w.bureau_reporter),
        )
    ],
    "sso.manage": [("create", lambda t, u: None, lambda t, u: sso.create_provider(u))],
    "incident.report": [
        (
            "for the bureau",
            lambda t, u: t.w.bureau,
            lambda t, u: incidents.report_incident(
                u,
                t.w.bureau,
                title="Phishing",
                description="Mail.",
                rsit_class="fraud",
                rsit_type="phishing",
                aware_at=timezone.now() - timedelta(minutes=5),
                answers=Answers(integrity="minor"),
            ),
        )
    ],
    "incident.review": [
        (
            "review",
            lambda t, u: t.incident,
            lambda t, u: incidents.review_incident(u, t.incident, level=3),
        )
    ],
    "incident.handle": [
        (
            "note",
            lambda t, u: t.incident,
            lambda t, u: incidents.add_note(u, t.incident, kind="note", text="Seen."),
        ),
        (
            "tags",
            lambda t, u: t.incident,
            lambda t, u: incidents.set_tags(u, t.incident, ["web"]),
        ),
    ],
    "incident.triage": [
        (
            "start the response",
            lambda t, u: t.incident,
            lambda t, u: incidents.start_response(u, t.incident),
        ),
        (
            "assign",
            lambda t, u: t.incident,
            lambda t, u: incidents.assign_incident(u, t.incident, None),
        ),
    ],
    "incident.coordinate": [
        (
            "extend",
            lambda t, u: t.incident,
            lambda t, u: incidents.grant_extension(
                u, t.incident, until=timezone.now() + timedelta(days=9), reason="Holidays."
            ),
        ),
        (
            "case template",
            lambda t, u: None,
            lambda t, u: incidents.save_case_template(u, "intrusions", ""),
        ),
    ],
    "incident.guide": [
        (
            "guidance",
            lambda t, u: t.incident,
            lambda t, u: incidents.add_note(u, t.incident, kind="guidance", text="Patch."),
        )
    ],
    "incident.refer": [
        (
            "refer",
            lambda t, u: t.incident,
            lambda t, u: incidents.refer(u, t.incident, t.lea, note="Fraud."),
        )
    ],
    "incident.complete_task": [
        ("complete", lambda t, u: t.task, lambda t, u: incidents.complete_task(u, t.task))
    ],
    "incident.delete_filter": [
        ("delete", lambda t, u: t.saved, lambda t, u: incidents.delete_filter(u, t.saved))
    ],
    "intel.write": [
        (
            "share",
            lambda t, u: t.collection,
            lambda t, u: intel.ingest_objects(u, t.collection, [], raw="[]"),
        )
    ],
    "intel.review": [("review", lambda t, u: None, lambda t, u: intel.review(u, [], publish=True))],
    "intel.delete": [
        (
            "delete the CERT's",
            _rows,
            lambda t, u: intel.delete_versions(u, t.collection, t.stix_id, None),
        )
    ],
    "intel.report_sighting": [
        (
            "for the bureau",
            lambda t, u: t.w.bureau,
            lambda t, u: intel.record_sighting(
                "198.51.100.7",
                t.w.bureau,
                1,
                timezone.now(),
                timezone.now(),
                "test",
                actor=u,
            ),
        )
    ],
    "monitoring.triage": [
        (
            "false positive",
            lambda t, u: t.alert,
            lambda t, u: monitoring.mark_false_positive(u, t.alert, reason="Ours."),
        )
    ],
    "exchange.manage": [("routing rule", lambda t, u: None, lambda t, u: exchange.add_rule(u))],
    "advisory.write": [
        ("write", lambda t, u: None, lambda t, u: advisories.create_advisory(u)),
        ("remind", lambda t, u: None, lambda t, u: advisories.remind(u, t.target.advisory)),
    ],
    "advisory.approve": [
        ("approve", lambda t, u: t.pending, lambda t, u: advisories.approve(u, t.pending))
    ],
    "advisory.respond": [
        (
            "acknowledge",
            lambda t, u: t.target,
            lambda t, u: advisories.acknowledge(u, t.target),
        )
    ],
    "advisory.manage_inventory": [
        (
            "add",
            lambda t, u: t.w.bureau,
            lambda t, u: advisories.add_inventory_item(
                u, t.w.bureau, vendor="example", product="httpd", version="2.4.1"
            ),
        )
    ],
    "drill.run": [
        ("campaign", lambda t, u: None, lambda t, u: drills.create_campaign(u, organisations=[]))
    ],
    "drill.plan": [
        (
            "file",
            lambda t, u: t.drill_plan,
            lambda t, u: drills.file_plan(u, t.drill_plan, measures="short"),
        )
    ],
    "drill.record": [
        (
            "held",
            lambda t, u: t.obligation,
            lambda t, u: drills.record_held(
                u, t.obligation, held_at=timezone.now() + timedelta(days=1)
            ),
        )
    ],
    "drill.notify": [
        (
            "notice",
            lambda t, u: t.w.bureau,
            lambda t, u: drills.send_notice(
                u, t.w.bureau, scenario="", rsit_class="fraud", rsit_type="phishing"
            ),
        )
    ],
    "drill.respond": [
        (
            "report",
            lambda t, u: t.drill_notice,
            lambda t, u: drills.report_drill(u, t.drill_notice, title="", description=""),
        )
    ],
    "exercise.control": [
        (
            "inject",
            lambda t, u: t.exercise,
            lambda t, u: exercises.add_inject(
                u, t.exercise, title="", body_en="", offset_minutes=0
            ),
        )
    ],
    "exercise.evaluate": [
        (
            "score",
            lambda t, u: t.exercise,
            lambda t, u: exercises.score(u, t.expectation, t.exercise_team, points=1),
        )
    ],
    "exercise.play": [
        (
            "respond",
            lambda t, u: t.exercise_team,
            lambda t, u: exercises.respond(u, t.expectation, t.exercise_team, text="x"),
        )
    ],
    "exercise.item": [
        (
            "progress",
            lambda t, u: t.exercise_item,
            lambda t, u: exercises.update_item(u, t.exercise_item, state="bogus"),
        )
    ],
    "findings.plan": [
        (
            "plan",
            lambda t, u: t.w.bureau,
            lambda t, u: findings.create_engagement(u, t.w.bureau, kind="audit", title="Audit"),
        )
    ],
    "findings.work": [
        ("start", lambda t, u: t.finding, lambda t, u: findings.start(u, t.finding)),
        ("fix", lambda t, u: t.finding, lambda t, u: findings.mark_fixed(u, t.finding, "Done.")),
    ],
    "findings.retest": [
        (
            "retest",
            lambda t, u: t.finding,
            lambda t, u: findings.retest(u, t.finding, passed=True),
        )
    ],
    "findings.false_positive": [
        (
            "false positive",
            lambda t, u: t.finding,
            lambda t, u: findings.mark_false_positive(u, t.finding, "Not applicable."),
        )
    ],
    "findings.request_acceptance": [
        (
            "request",
            lambda t, u: t.finding,
            lambda t, u: findings.request_risk_acceptance(
                u, t.finding, reason="r", expires_on=timezone.localdate() + timedelta(days=9)
            ),
        )
    ],
    "findings.approve_acceptance": [
        (
            "approve",
            lambda t, u: t.acceptance,
            lambda t, u: findings.decide_risk_acceptance(u, t.acceptance, approve=True),
        )
    ],
    "analytics.write_report": [
        (
            "texts",
            lambda t, u: None,
            lambda t, u: analytics_services.save_report_texts(u, timezone.now().year, "en", {}),
        )
    ],
    "training.manage_learners": [
        (
            "import learners",
            lambda t, u: t.w.bureau,
            lambda t, u: training.import_learners(u, t.w.bureau, "staff_id,name,email,role\n"),
        )
    ],
    "training.author": [
        (
            "add a lesson",
            lambda t, u: _training_course(t),
            lambda t, u: training.add_lesson(u, _training_course(t), title="Lesson"),
        ),
    ],
    "training.run_competitions": [
        (
            "create",
            lambda t, u: t.w.cert,
            lambda t, u: training.create_competition(
                u,
                t.w.cert,
                slug="cup",
                name="Cup",
                starts_at=timezone.now(),
                ends_at=timezone.now(),
            ),
        ),
    ],
}


def _training_course(t: Things) -> Any:
    """A course owned by the bureau (made once per world, by the CERT)."""
    course = getattr(t, "_training_course", None)
    if course is None:
        course = training.create_course(
            t.w.analyst, t.w.bureau, code="matrix", title="Matrix", hours=1, hours_kind="general"
        )
        t._training_course = course  # type: ignore[attr-defined]
    return course


def _fresh(user: User) -> User:
    """A new object each time, so no attempt's cached rights leak into the next."""
    return User.objects.get(pk=user.pk)


def _service_allows(attempt: Callable[[], Any]) -> bool:
    try:
        with transaction.atomic():
            # Past the permission check, the content may be refused: the right was granted.
            with contextlib.suppress(ValidationError):
                attempt()
            raise _Undo
    except _Undo:
        return True
    except PermissionDenied:
        return False


def test_every_declared_action_is_in_the_matrix() -> None:
    assert set(CASES) == set(permissions.actions())


@pytest.mark.django_db
def test_can_agrees_with_what_each_service_allows_for_everyone() -> None:
    w = World()
    things = Things(w)
    disagreements = []
    allowed_somewhere: dict[str, set[bool]] = {}
    for action, cases in CASES.items():
        for label, obj_of, attempt in cases:
            for name in PEOPLE:
                person = _fresh(getattr(w, name))
                answer = can(person, action, obj_of(things, person))
                person = _fresh(person)
                allowed = _service_allows(lambda: attempt(things, person))  # noqa: B023
                allowed_somewhere.setdefault(f"{action}: {label}", set()).add(allowed)
                if answer != allowed:
                    disagreements.append(f"{action} ({label}) for {name}: can={answer}")
    assert disagreements == []
    # Each case separates people: someone is allowed and someone refused (a case nobody
    # or everybody passes would not test the rule).
    assert {case: seen for case, seen in allowed_somewhere.items() if len(seen) != 2} == {}


# --- The vocabulary itself --------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_action_is_an_error_not_a_silent_answer() -> None:
    w = World()
    for user in (w.admin, w.nobody, None):
        with pytest.raises(UnknownAction):
            can(user, "incident.hanlde")
        with pytest.raises(UnknownAction):
            require(user, "advisory.aprove")


@pytest.mark.django_db
def test_nobody_signed_out_may_do_anything_and_require_gives_the_actions_reason() -> None:
    from django.contrib.auth.models import AnonymousUser

    w = World()
    for name in permissions.actions():
        assert not can(None, name)
        assert not can(AnonymousUser(), name)
    with pytest.raises(PermissionDenied, match=r"Only CERT staff triage monitoring alerts"):
        require(w.bureau_reporter, "monitoring.triage")
    with pytest.raises(PermissionDenied, match=r"second person must approve an advisory"):
        require(w.analyst, "advisory.approve", w.draft())


def test_an_action_is_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        permissions.action("incident.handle")(lambda user, obj: True)
    with pytest.raises(ValueError, match=r"<app>\.<verb>"):
        permissions.action("handle")(lambda user, obj: True)


@pytest.mark.django_db
def test_the_template_tag_asks_the_same_rule() -> None:
    w = World()
    page = Template('{% load permissions %}{% can "organisation.edit" org as ok %}{{ ok }}')
    for user, expected in [(w.bureau_admin, "True"), (w.bureau_reporter, "False")]:
        request = RequestFactory().get("/")
        request.user = user
        assert page.render(Context({"request": request, "org": w.bureau})) == expected


# --- No drift -------------------------------------------------------------------------------

# The names the six old vocabularies used (issue 21), and their kin.
OWN_HELPER = re.compile(r"^(_?require(_\w+)?|can_\w+|may_write|is_cert_staff)$")
REGISTRY = {"core/permissions.py", "core/templatetags/permissions.py"}


def test_no_module_defines_its_own_permission_helper() -> None:
    """Write permissions are rules in `<app>/rules.py`, asked through `core.permissions`;
    a `can_handle`, `may_write`, `require_staff` or `_require_cert` anywhere else is the
    drift issue 21 removed."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if (
            "/tests/" in relative
            or "/migrations/" in relative
            or relative.endswith("conftest.py")
            or relative.endswith("/rules.py")
            or relative in REGISTRY
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and OWN_HELPER.match(
                node.name
            ):
                found.append(f"{relative}:{node.lineno} {node.name}")
    assert found == []


def test_every_rules_module_only_declares_through_the_registry() -> None:
    """An app's rules module holds rules and what its forms may offer, never a check that
    raises by itself (the reason belongs to the action, given by `require`)."""
    for path in sorted(SRC.glob("*/rules.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        raises = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Raise)]
        assert raises == [], path
