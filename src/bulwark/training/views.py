"""Training pages: the staff side (catalogue, learners, compliance, item statistics) for
platform users through `visible_to`, and the learner side (`/training/learn/...`) for the
signed-in learner only (`learner_auth`)."""

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bulwark.advisories.rendering import markdown_to_html
from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation
from bulwark.core.middleware import client_ip
from bulwark.core.permissions import can
from bulwark.training import certificates, forms, selectors, services
from bulwark.training.engine import exam as engine
from bulwark.training.learner_auth import (
    learner_required,
    sign_in,
    sign_out,
    sso_buttons,
)
from bulwark.training.models import (
    Answer,
    Attempt,
    Category,
    Certificate,
    Competition,
    Course,
    Exam,
    Learner,
    LearnerGroup,
    Lesson,
    LessonProgress,
    Question,
    TrainingRole,
    bilingual,
)


def _year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "")
    this = timezone.localdate().year
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= this + 1 else this


def _managed_orgs(request: HttpRequest) -> list[Organisation]:
    return [
        org
        for org in Organisation.objects.visible_to(request.user).filter(is_active=True)
        if can(request.user, "training.manage_learners", org)
    ]


# --- Staff pages ------------------------------------------------------------------------------


@login_required
def course_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.courses(request.user, request.GET), 50).get_page(
        request.GET.get("page")
    )
    may_author = can(request.user, "training.author", None)
    return render(request, "training/course_list.html", {"page": page, "may_author": may_author})


@login_required
def course_detail(request: HttpRequest, code: str) -> HttpResponse:
    course = get_object_or_404(selectors.courses(request.user), code=code)
    orgs = _managed_orgs(request)
    if request.method == "POST":
        org = next((o for o in orgs if str(o.pk) == request.POST.get("organisation")), None)
        if org is None:
            raise PermissionDenied
        target = request.POST.get("target", "")
        try:
            if target == "everyone":
                added = services.enrol(acting_user(request), course, org, everyone=True)
            elif target.startswith("role:"):
                added = services.enrol(acting_user(request), course, org, role=target[5:])
            elif target.startswith("group:") and target[6:].isdigit():
                group = get_object_or_404(LearnerGroup, pk=int(target[6:]), organisation=org)
                added = services.enrol(acting_user(request), course, org, group=group)
            else:
                raise services.TrainingError(_("Choose whom to enrol."))
        except services.TrainingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("%(n)d learners enrolled.") % {"n": added})
        return redirect("training-course", code=course.code)
    groups = LearnerGroup.objects.filter(organisation__in=orgs)
    enrolled = selectors.enrolments(request.user).filter(course=course, withdrawn_at__isnull=True)
    return render(request, "training/course_detail.html", {
        "course": course, "lessons": course.lessons.filter(is_active=True), "orgs": orgs,
        "groups": groups,
        "roles": TrainingRole.choices, "enrolled": enrolled.count(),
        "completed": enrolled.filter(completed_at__isnull=False).count(),
        "exam": Exam.objects.filter(course=course).first(),
        "may_author": can(request.user, "training.author", course),
    })  # fmt: skip


@login_required
def course_enrolments(request: HttpRequest, code: str) -> HttpResponse:
    """A course's enrolments of the learners one sees; an agency's admins (and the CERT)
    enrol one learner by e-mail or staff number, withdraw an enrolment, enrol again."""
    course = get_object_or_404(selectors.courses(request.user), code=code)
    orgs = _managed_orgs(request)
    if request.method == "POST":
        _enrolment_action(request, course, orgs)
        return redirect(f"{request.path}?{request.GET.urlencode()}")
    page = Paginator(selectors.course_enrolments(request.user, course, request.GET), 50).get_page(
        request.GET.get("page")
    )
    managed = {org.pk for org in orgs}
    return render(request, "training/course_enrolments.html", {
        "course": course, "page": page, "orgs": orgs,
        "rows": [(e, e.learner.organisation_id in managed) for e in page],
    })  # fmt: skip


def _enrolment_action(request: HttpRequest, course: Course, orgs: list[Organisation]) -> None:
    actor = acting_user(request)
    action = request.POST.get("action", "")
    try:
        if action == "withdraw":
            raw = request.POST.get("enrolment", "")
            enrolment = get_object_or_404(
                selectors.enrolments(request.user).filter(course=course),
                pk=int(raw) if raw.isdigit() else 0,
            )
            services.withdraw_enrolment(actor, enrolment)
            messages.success(request, _("%(name)s is withdrawn from the course; what they did "
                                        "is kept.") % {"name": enrolment.learner.name})  # fmt: skip
            return
        org = next((o for o in orgs if str(o.pk) == request.POST.get("organisation")), None)
        if org is None:
            raise PermissionDenied
        who = request.POST.get("learner", "").strip()[:254]
        found = selectors.learners(request.user).filter(organisation=org, is_active=True)
        learner = (
            found.filter(pk=int(who)).first() if action == "again" and who.isdigit()
            else found.filter(Q(email__iexact=who) | Q(staff_id=who)).first() if who else None
        )  # fmt: skip
        if learner is None:
            raise services.TrainingError(
                _("No active learner of %(agency)s has this e-mail address or staff number.")
                % {"agency": org.name}
            )
        if services.enrol(actor, course, org, learners=[learner]):
            messages.success(request, _("%(name)s is enrolled.") % {"name": learner.name})
        else:
            messages.info(request, _("%(name)s was enrolled already.") % {"name": learner.name})
    except services.TrainingError as exc:
        messages.error(request, str(exc))


@login_required
def item_statistics(request: HttpRequest, code: str) -> HttpResponse:
    course = get_object_or_404(selectors.courses(request.user), code=code)
    if not can(request.user, "training.author", course):
        raise PermissionDenied
    exam = get_object_or_404(Exam, course=course)
    questions = list(Question.objects.filter(exam=exam))
    items = {q.pk: services.question_item(q) for q in questions}
    finished = Attempt.objects.filter(exam=exam, finished_at__isnull=False)
    answers: dict[int, dict[int, frozenset[str]]] = {}
    for attempt_id, question_id, chosen in Answer.objects.filter(attempt__in=finished).values_list(
        "attempt_id", "question_id", "chosen"
    ):
        answers.setdefault(attempt_id, {})[question_id] = frozenset(chosen)
    rows = [(a.question_ids, answers.get(a.pk, {})) for a in finished]
    stats = engine.item_statistics(items, rows)
    table = [(q, stats[q.pk]) for q in questions]
    summary = finished.count(), finished.filter(passed=True).count()
    return render(request, "training/item_statistics.html",
                  {"course": course, "exam": exam, "table": table, "attempts": summary[0],
                   "passed": summary[1]})  # fmt: skip


@login_required
def learner_list(request: HttpRequest) -> HttpResponse:
    orgs = _managed_orgs(request)
    result = None
    if request.method == "POST":
        org = next((o for o in orgs if str(o.pk) == request.POST.get("organisation")), None)
        if org is None:
            raise PermissionDenied
        upload = request.FILES.get("file")
        text = request.POST.get("csv", "")
        if upload is not None:
            try:
                text = upload.read(10_000_000).decode("utf-8-sig")
            except UnicodeDecodeError:
                messages.error(request, _("The file is not UTF-8 text."))
                text = ""
        if text:
            kind = request.POST.get("kind", "learners")
            try:
                if kind == "records":
                    result = services.import_records(acting_user(request), org, text)
                else:
                    result = services.import_learners(acting_user(request), org, text)
            except services.TrainingError as exc:
                messages.error(request, str(exc))
    page = Paginator(selectors.learners(request.user, request.GET), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "training/learner_list.html",
                  {"page": page, "orgs": orgs, "result": result,
                   "roles": TrainingRole.choices})  # fmt: skip


@login_required
@require_POST
def learner_link(request: HttpRequest, pk: int) -> HttpResponse:
    learner = get_object_or_404(selectors.learners(request.user), pk=pk)
    reset = request.POST.get("reset") == "1"
    try:
        services.issue_sign_in_link(acting_user(request), learner, settings.SITE_URL + "/",
                                    reset_password=reset)  # fmt: skip
    except services.TrainingError as exc:
        messages.error(request, str(exc))
    else:
        if reset:
            messages.success(request, _("The password of %(name)s is removed and a sign-in "
                                        "link was e-mailed to %(email)s.")
                             % {"name": learner.name, "email": learner.email})  # fmt: skip
        else:
            messages.success(request, _("A sign-in link was e-mailed to %(email)s.")
                             % {"email": learner.email})  # fmt: skip
    return redirect("training-learners")


@login_required
def compliance(request: HttpRequest) -> HttpResponse:
    year = _year(request)
    org = None
    raw = request.GET.get("organisation", "")
    if raw.isdigit():
        org = get_object_or_404(Organisation.objects.visible_to(request.user), pk=int(raw))
    if request.method == "POST" and org is not None:
        late = selectors.behind(request.user, org, year)
        try:
            sent = services.send_reminders(acting_user(request), org, year, late)
        except PermissionDenied:
            raise
        messages.success(request, _("%(n)d reminders queued.") % {"n": sent})
        return redirect(f"{request.path}?organisation={org.pk}&year={year}")
    report = selectors.compliance(request.user, year, org)
    page = None
    rows: list[tuple[str, str, str, list[tuple[str, Decimal]]]] = []
    if org is not None:
        # Those behind first, in the database's order; 100 a page, each page read alone
        # (an agency may have 5,000 staff).
        page = Paginator(report.people, 100).get_page(request.GET.get("page"))
        # Plain values for the rows: the template does one lookup per cell.
        names = dict(
            Learner.objects.filter(pk__in=[p.learner_id for p in page]).values_list("pk", "name")
        )
        role_labels = dict(TrainingRole.choices)
        rows = [
            (names[p.learner_id], str(role_labels.get(p.role, p.role)), str(p.assessment.standing),
             list(p.assessment.missing.items()))
            for p in page
        ]  # fmt: skip
    orgs = sorted(report.by_org.items(), key=lambda row: report.organisations[row[0]].name)
    return render(request, "training/compliance.html", {
        "report": report, "org": org, "page": page, "rows": rows, "year": year,
        "orgs": [(report.organisations[pk], s) for pk, s in orgs],
        "roles": [(dict(TrainingRole.choices).get(r, r), s) for r, s in report.by_role.items()],
        "may_remind": org is not None and can(request.user, "training.manage_learners", org),
    })  # fmt: skip


def certificate_verify(request: HttpRequest, code: str) -> HttpResponse:
    """Public: anyone with the URL (printed on the PDF) sees whether it is valid."""
    certificate = Certificate.objects.filter(code=code).first()
    return render(request, "training/certificate_verify.html", {"certificate": certificate},
                  status=200 if certificate else 404)  # fmt: skip


# --- Learner pages ----------------------------------------------------------------------------


def learner_sign_in(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            learner = services.authenticate_learner(
                request.POST.get("email", ""), request.POST.get("password", ""), client_ip(request)
            )
        except services.TrainingError as exc:
            learner, error = None, str(exc)
        if learner is not None:
            sign_in(request, learner)
            target = request.POST.get("next", "")
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}) or not (
                target.startswith("/training/learn/")
            ):
                target = "/training/learn/"
            return redirect(target)
        error = error or _("E-mail address or password is wrong.")
    return render(request, "training/learn/sign_in.html",
                  {"error": error, "next": request.GET.get("next", ""),
                   "sso_buttons": sso_buttons(request)},
                  status=400 if error else 200)  # fmt: skip


def learner_link_sign_in(request: HttpRequest, secret: str) -> HttpResponse:
    # GET shows a button (mail scanners follow links: they must not use the link up).
    if request.method == "POST":
        learner = services.redeem_sign_in_link(secret)
        if learner is not None:
            sign_in(request, learner)
            return redirect("/training/learn/")
        return render(request, "training/learn/link.html", {"expired": True}, status=400)
    return render(request, "training/learn/link.html", {"expired": False})


@require_POST
def learner_sign_out(request: HttpRequest) -> HttpResponse:
    sign_out(request)
    return redirect("/training/learn/sign-in/")


@learner_required
def learner_home(request: HttpRequest, learner: Learner) -> HttpResponse:
    year = timezone.localdate().year
    standing = selectors.standings(Learner.objects.filter(pk=learner.pk), year)
    if request.method == "POST":
        try:
            services.set_own_password(learner, request.POST.get("password", ""))
        except services.TrainingError as exc:
            messages.error(request, str(exc))
        else:
            sign_in(request, learner)
            messages.success(request, _("Your password is set."))
        return redirect("/training/learn/")
    return render(request, "training/learn/home.html", {
        "learner": learner, "enrolments": selectors.own_enrolments(learner),
        "records": selectors.own_records(learner)[:50],
        "certificates": selectors.own_certificates(learner), "year": year,
        "standing": standing[0] if standing else None,
    })  # fmt: skip


def _own_course(learner: Learner, code: str) -> Course:
    course = Course.objects.for_learner(learner).filter(code=code).first()
    if course is None:
        raise Http404
    return course


@learner_required
def learner_course(request: HttpRequest, learner: Learner, code: str) -> HttpResponse:
    course = _own_course(learner, code)
    enrolment = course.enrolments.get(learner=learner)
    done = set(
        LessonProgress.objects.filter(enrolment=enrolment).values_list("lesson_id", flat=True)
    )
    exam = Exam.objects.filter(course=course).first()
    attempts = Attempt.objects.filter(exam=exam, learner=learner) if exam else []
    return render(request, "training/learn/course.html", {
        "learner": learner, "course": course, "enrolment": enrolment,
        "lessons": [(lesson, lesson.pk in done)
                    for lesson in course.lessons.filter(is_active=True)],
        "exam": exam, "attempts": attempts,
        "missing": services.missing_prerequisites(learner, course),
    })  # fmt: skip


@learner_required
def learner_lesson(request: HttpRequest, learner: Learner, pk: int) -> HttpResponse:
    lesson = get_object_or_404(Lesson, pk=pk, is_active=True)
    course = _own_course(learner, lesson.course.code)
    if request.method == "POST":
        try:
            services.complete_lesson(learner, lesson)
        except services.TrainingError as exc:
            messages.error(request, str(exc))
        return redirect("training-learn-course", code=course.code)
    return render(request, "training/learn/lesson.html", {
        "learner": learner, "course": course, "lesson": lesson,
        "body": markdown_to_html(lesson.display_body),
    })  # fmt: skip


@learner_required
@require_POST
def learner_start_exam(request: HttpRequest, learner: Learner, code: str) -> HttpResponse:
    course = _own_course(learner, code)
    exam = get_object_or_404(Exam, course=course)
    try:
        attempt = services.start_attempt(learner, exam)
    except services.TrainingError as exc:
        messages.error(request, str(exc))
        return redirect("training-learn-course", code=code)
    return redirect("training-learn-attempt", pk=attempt.pk)


def _own_attempt(learner: Learner, pk: int) -> Attempt:
    attempt = Attempt.objects.filter(pk=pk, learner=learner).select_related("exam__course").first()
    if attempt is None:
        raise Http404
    return attempt


@learner_required
def learner_attempt(request: HttpRequest, learner: Learner, pk: int) -> HttpResponse:
    attempt = _own_attempt(learner, pk)
    if attempt.finished_at is None and not engine.on_time(
        attempt.deadline, timezone.now(), services.ANSWER_GRACE
    ):
        attempt = services.finish_attempt(learner, attempt)
    if request.method == "POST" and attempt.finished_at is None:
        # The form without JavaScript: every question's answer in one post.
        revision = int(request.POST.get("revision", "0") or 0)
        for question_id in attempt.question_ids:
            chosen = request.POST.getlist(f"q{question_id}")
            if chosen:
                try:
                    services.save_answer(learner, attempt.pk, question_id, chosen, revision)
                except services.TrainingError as exc:
                    messages.error(request, str(exc))
        if "finish" in request.POST:
            attempt = services.finish_attempt(learner, attempt)
        return redirect("training-learn-attempt", pk=attempt.pk)
    questions = Question.objects.in_bulk(attempt.question_ids)
    kept = {a.question_id: a for a in Answer.objects.filter(attempt=attempt)}
    shown = []
    for question_id, order in attempt.drawn:
        question = questions[int(question_id)]
        texts = {str(o["id"]): o for o in question.options}
        options = [(oid, _option_text(texts.get(oid, {})),
                    oid in (kept[question.pk].chosen if question.pk in kept else []))
                   for oid in order]  # fmt: skip
        shown.append((question, options, kept.get(question.pk)))
    certificate = Certificate.objects.filter(attempt=attempt).first()
    next_revision = max((a.revision for a in kept.values()), default=0) + 1
    return render(request, "training/learn/attempt.html", {
        "learner": learner, "attempt": attempt, "shown": shown, "certificate": certificate,
        "revision": next_revision,
    })  # fmt: skip


def _option_text(option: dict[str, Any]) -> str:
    return bilingual(str(option.get("text", "")), str(option.get("text_zh_hant", "")))


@learner_required
@require_POST
def learner_save_answer(request: HttpRequest, learner: Learner, pk: int) -> JsonResponse:
    """One answer as JSON {"question": id, "chosen": [...], "revision": n}: the page's
    script sends each change (and again after a lost connection)."""
    try:
        data = json.loads(request.body or b"{}")
        question_id, chosen, revision = int(data["question"]), data["chosen"], int(data["revision"])
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": _("Send question, chosen (a list) and revision.")}, status=400
        )
    try:
        saved = services.save_answer(learner, pk, question_id, chosen, revision)
    except services.TrainingError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except PermissionDenied:
        return JsonResponse({"error": _("Not your attempt.")}, status=404)
    return JsonResponse({"revision": saved.revision, "chosen": saved.chosen,
                         "applied": saved.applied})  # fmt: skip


@learner_required
def learner_certificate(request: HttpRequest, learner: Learner, code: str) -> HttpResponse:
    certificate = selectors.own_certificates(learner).filter(code=code).first()
    if certificate is None:
        raise Http404
    pdf = certificates.render_pdf(certificate, settings.SITE_URL + "/", learner.preferred_language)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.code}.pdf"'
    return response


# --- Competitions ---------------------------------------------------------------------------


@login_required
def competition_list(request: HttpRequest) -> HttpResponse:
    found = Competition.objects.visible_to(request.user)
    return render(request, "training/competition_list.html", {"competitions": found})


@login_required
def competition_detail(request: HttpRequest, slug: str) -> HttpResponse:
    competition = get_object_or_404(Competition.objects.visible_to(request.user), slug=slug)
    may_run = can(request.user, "training.run_competitions", competition.organiser)
    if request.method == "POST":
        if not may_run:
            raise PermissionDenied
        upload = request.FILES.get("export")
        if upload is None:
            messages.error(request, _("Choose CTFd's export file (.zip)."))
        else:
            try:
                summary = services.import_ctfd_results(
                    acting_user(request), competition, upload.read(200 * 1024 * 1024)
                )
            except services.TrainingError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _(
                    "%(n)d results imported, %(c)d certificates issued; not registered here: "
                    "%(u)s."
                ) % {"n": summary.results, "c": summary.certificates,
                     "u": ", ".join(summary.unmatched) or "—"})  # fmt: skip
        return redirect("training-competition", slug=slug)
    return render(request, "training/competition_detail.html", {
        "competition": competition, "results": selectors.results(request.user, competition),
        "figures": selectors.competition_figures(request.user, competition), "may_run": may_run,
    })  # fmt: skip


def competition_register(request: HttpRequest, slug: str) -> HttpResponse:
    """Public registration (schools and the public have no account)."""
    competition = get_object_or_404(Competition, slug=slug)
    error, done = "", False
    if request.method == "POST":
        try:
            services.register_from_form(
                competition, client_ip(request), name=request.POST.get("name", ""),
                email=request.POST.get("email", ""), category=request.POST.get("category", ""),
                school=request.POST.get("school", ""), region=request.POST.get("region", ""),
                team_name=request.POST.get("team", ""),
            )  # fmt: skip
            done = True
        except services.TrainingError as exc:
            error = str(exc)
    return render(request, "training/competition_register.html",
                  {"competition": competition, "error": error, "done": done,
                   "categories": Category.choices},
                  status=400 if error else 200)  # fmt: skip


@login_required
def certificate_pdf(request: HttpRequest, code: str) -> HttpResponse:
    """A certificate's PDF for the staff who see it (the agency, the CERT)."""
    certificate = get_object_or_404(selectors.certificates(request.user), code=code)
    pdf = certificates.render_pdf(certificate, settings.SITE_URL + "/",
                                  request.LANGUAGE_CODE)  # fmt: skip
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.code}.pdf"'
    return response


# --- Authoring ------------------------------------------------------------------------------


def _authoring_owner(request: HttpRequest) -> Organisation | None:
    """The organisation a new course belongs to: the CERT's for CERT staff, else the
    first the author administers."""
    for org in Organisation.objects.visible_to(request.user).filter(is_active=True):
        if org.kind == "national_cert" and can(request.user, "training.manage_learners", org):
            return org
    return next(iter(_managed_orgs(request)), None)


@login_required
def course_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "training.author", None):
        raise PermissionDenied
    form = forms.CourseForm(request.POST or None)
    form.fields["prerequisites"].queryset = selectors.courses(request.user)  # type: ignore[attr-defined]
    owner = _authoring_owner(request)
    if request.method == "POST" and form.is_valid() and owner is not None:
        data = dict(form.cleaned_data)
        try:
            course = services.create_course(acting_user(request), owner, **data)
        except (services.TrainingError, ValidationError) as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("training-course-edit", code=course.code)
    return render(request, "training/course_form.html", {"form": form},
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
def course_edit(request: HttpRequest, code: str) -> HttpResponse:
    course = get_object_or_404(selectors.courses(request.user), code=code)
    if not can(request.user, "training.author", course):
        raise PermissionDenied
    exam = Exam.objects.filter(course=course).first()
    course_form = forms.CourseEditForm(instance=course, prefix="course")
    lesson_form = forms.LessonForm(prefix="lesson")
    exam_form = forms.ExamForm(instance=exam, prefix="exam")
    question_form = forms.QuestionForm(prefix="question")
    what = request.POST.get("what", "")
    actor = acting_user(request)
    failed = False
    prerequisites = selectors.courses(request.user).exclude(pk=course.pk)
    course_form.fields["prerequisites"].queryset = prerequisites  # type: ignore[attr-defined]
    if request.method == "POST":
        try:
            if what == "course":
                course_form = forms.CourseEditForm(request.POST, instance=Course.objects.get(
                    pk=course.pk), prefix="course")  # fmt: skip
                course_form.fields["prerequisites"].queryset = prerequisites  # type: ignore[attr-defined]
                if course_form.is_valid():
                    services.update_course(actor, course, **course_form.cleaned_data)
                    messages.success(request, _("The course is saved."))
                    return redirect("training-course-edit", code=code)
            elif what == "archive":
                services.archive_course(actor, course)
                messages.success(request, _("The course is archived."))
                return redirect("training-course", code=code)
            elif what in ("retire", "restore") and exam is not None:
                raw = request.POST.get("question", "")
                question = get_object_or_404(Question, exam=exam, pk=int(raw) if raw.isdigit()
                                             else 0)  # fmt: skip
                services.set_question_active(actor, question, what == "restore")
                return redirect("training-course-edit", code=code)
            elif what == "lesson":
                lesson_form = forms.LessonForm(request.POST, request.FILES, prefix="lesson")
                if lesson_form.is_valid():
                    services.add_lesson(actor, course, **lesson_form.cleaned_data)
                    return redirect("training-course-edit", code=code)
            elif what == "exam":
                exam_form = forms.ExamForm(request.POST, instance=exam, prefix="exam")
                if exam_form.is_valid():
                    services.set_exam(actor, course, **exam_form.cleaned_data)
                    return redirect("training-course-edit", code=code)
            elif what == "question" and exam is not None:
                question_form = forms.QuestionForm(request.POST, prefix="question")
                if question_form.is_valid():
                    data = question_form.cleaned_data
                    services.add_question(actor, exam, kind=data["kind"], text=data["text"],
                                          text_zh_hant=data["text_zh_hant"],
                                          options=data["parsed"])  # fmt: skip
                    return redirect("training-course-edit", code=code)
            elif what == "publish":
                services.publish_course(actor, course)
                messages.success(request, _("The course is published."))
                return redirect("training-course", code=code)
        except (services.TrainingError, ValidationError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        failed = True
    return render(request, "training/course_edit.html", {
        "course": course, "exam": exam, "lessons": course.lessons.all(),
        "questions": exam.questions.all() if exam else [], "lesson_form": lesson_form,
        "exam_form": exam_form, "question_form": question_form, "course_form": course_form,
    }, status=400 if failed else 200)  # fmt: skip


def _authored(request: HttpRequest, code: str) -> Course:
    course = get_object_or_404(selectors.courses(request.user), code=code)
    if not can(request.user, "training.author", course):
        raise PermissionDenied
    return course


@login_required
def lesson_edit(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """Change a lesson, or retire it (learners no longer see it) or bring it back."""
    course = _authored(request, code)
    lesson = get_object_or_404(Lesson, course=course, pk=pk)
    form = forms.LessonForm(instance=lesson, prefix="lesson")
    actor = acting_user(request)
    failed = False
    if request.method == "POST":
        what = request.POST.get("what", "")
        try:
            if what in ("retire", "restore"):
                services.set_lesson_active(actor, lesson, what == "restore")
                return redirect("training-course-edit", code=code)
            form = forms.LessonForm(request.POST, request.FILES, prefix="lesson",
                                    instance=Lesson.objects.get(pk=lesson.pk))  # fmt: skip
            if form.is_valid():
                services.update_lesson(actor, lesson, **form.cleaned_data)
                messages.success(request, _("The lesson is saved."))
                return redirect("training-course-edit", code=code)
        except (services.TrainingError, ValidationError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        failed = True
    return render(request, "training/lesson_edit.html",
                  {"course": course, "lesson": lesson, "form": form},
                  status=400 if failed else 200)  # fmt: skip


@login_required
def question_edit(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """Change a question of the bank. A question attempts have drawn keeps its scoring:
    changing its options or right answers makes a new version (the page says so)."""
    course = _authored(request, code)
    question = get_object_or_404(Question, exam__course=course, pk=pk)
    form = forms.QuestionForm(initial=forms.question_initial(question), prefix="question")
    failed = False
    if request.method == "POST":
        form = forms.QuestionForm(request.POST, prefix="question")
        if form.is_valid():
            data = form.cleaned_data
            try:
                kept = services.update_question(
                    acting_user(request), question, kind=data["kind"], text=data["text"],
                    text_zh_hant=data["text_zh_hant"], options=data["parsed"],
                )  # fmt: skip
            except (services.TrainingError, ValidationError) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                if kept.pk != question.pk:
                    messages.success(request, _(
                        "Attempts have drawn this question, so its changed options make a new "
                        "version; the old one is retired and past attempts keep their scores."
                    ))  # fmt: skip
                else:
                    messages.success(request, _("The question is saved."))
                return redirect("training-course-edit", code=code)
        failed = True
    return render(request, "training/question_edit.html", {
        "course": course, "question": question, "form": form,
        "drawn": services.question_drawn(question),
    }, status=400 if failed else 200)  # fmt: skip


@login_required
def records_import(request: HttpRequest) -> HttpResponse:
    """Outside training records from a portal's CSV: choose or save the portal's column
    mapping, preview the first rows with their errors, then import."""
    orgs = _managed_orgs(request)
    if not orgs:
        raise PermissionDenied
    raw_org = request.POST.get("organisation") or request.GET.get("organisation", "")
    org = next((o for o in orgs if str(o.pk) == raw_org), orgs[0])
    mappings = list(selectors.mappings(request.user).filter(organisation=org))
    raw_mapping = request.POST.get("mapping") or request.GET.get("mapping", "")
    chosen = next((m for m in mappings if str(m.pk) == raw_mapping), None)
    # The chosen mapping's columns, or the default names to start a new one from.
    mapping_form = forms.MappingForm(
        instance=chosen, prefix="map",
        initial=None if chosen else {"title": "title", "date": "date", "hours": "hours",
                                     "kind": "kind", "email": "email", "staff_id": "staff_id",
                                     "provider": "provider", "record_id": "id"},
    )  # fmt: skip
    actor = acting_user(request)
    context: dict[str, Any] = {}
    status = 200
    what = request.POST.get("what", "")
    if request.method == "POST" and what == "save-mapping":
        mapping_form = forms.MappingForm(request.POST, prefix="map")
        if mapping_form.is_valid():
            data = {k: v for k, v in mapping_form.cleaned_data.items() if k != "name"}
            try:
                saved = services.save_mapping(actor, org, mapping_form.cleaned_data["name"],
                                              **data)  # fmt: skip
            except (services.TrainingError, ValidationError) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
                status = 400
            else:
                messages.success(request, _("The mapping is saved."))
                return redirect(f"{request.path}?organisation={org.pk}&mapping={saved.pk}")
        else:
            status = 400
    elif request.method == "POST" and what == "delete-mapping" and chosen is not None:
        services.delete_mapping(actor, chosen)
        messages.success(request, _("The mapping is deleted."))
        return redirect(f"{request.path}?organisation={org.pk}")
    elif request.method == "POST" and what in ("preview", "import"):
        text = request.POST.get("csv", "")
        upload = request.FILES.get("file")
        if upload is not None:
            try:
                text = upload.read(10_000_000).decode("utf-8-sig")
            except UnicodeDecodeError:
                text = ""
                messages.error(request, _("The file is not UTF-8 text."))
        record_mapping = services.RecordMapping.of(chosen) if chosen else None
        if text:
            try:
                if what == "preview":
                    header, rows = services.preview_records(actor, org, text, record_mapping)
                    context.update(header=header, preview=rows, csv_text=text)
                else:
                    context["result"] = services.import_records(actor, org, text, record_mapping)
            except services.TrainingError as exc:
                messages.error(request, str(exc))
                status = 400
        elif upload is None:
            messages.error(request, _("Choose a CSV file."))
            status = 400
    return render(request, "training/records_import.html", {
        "orgs": orgs, "org": org, "mappings": mappings, "chosen": chosen,
        "mapping_form": mapping_form, **context,
    }, status=status)  # fmt: skip


def learner_request_link(request: HttpRequest) -> HttpResponse:
    """A learner asks for a sign-in link. The answer is the same whether or not the
    address is a learner's (the service throttles and mails only when it is)."""
    sent = False
    if request.method == "POST":
        services.request_sign_in_link(
            request.POST.get("email", ""), client_ip(request), settings.SITE_URL + "/"
        )
        sent = True
    return render(request, "training/learn/request_link.html", {"sent": sent})
