"""Exercise pages: the CERT builds an exercise; its control team runs it (injects
delivered by hand or when due, a live timeline); players respond for their agency's
team; evaluators score; the after-action report with lessons learned and improvement
items tracked to closure. Every read narrows a `visible_to` queryset."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from bulwark.advisories.rendering import markdown_to_html
from bulwark.constituency.access import acting_user
from bulwark.constituency.views import run_service
from bulwark.core import csvexport
from bulwark.core import pdf as printing
from bulwark.core.permissions import can
from bulwark.drills.exercises import export, forms, selectors, services
from bulwark.drills.models import Exercise

REFRESH_SECONDS = 30


def _markdown(text: str) -> SafeString:
    return mark_safe(markdown_to_html(text))  # noqa: S308 - sanitised by nh3 in markdown_to_html


def _bilingual(english: str, chinese: str) -> SafeString:
    """The reader's language when the text exists in it, else the English."""
    wants_chinese = (translation.get_language() or "").lower().startswith("zh")
    return _markdown(chinese if wants_chinese and chinese.strip() else english)


def _exercise(request: HttpRequest, pk: int) -> Exercise:
    return get_object_or_404(selectors.exercises(request.user), pk=pk)


def _attempt(request: HttpRequest, call: Callable[[], Any], done: str) -> bool:
    try:
        call()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.success(request, done)
    return True


@login_required
def exercise_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.exercises(request.user, request.GET).annotate(
        agencies=Count("teams", distinct=True)
    )
    return render(
        request,
        "drills/exercise_list.html",
        {"exercises": rows, "may_create": can(request.user, "drill.run")},
    )


@login_required
def exercise_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "drill.run"):
        raise PermissionDenied
    form = forms.ExerciseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        exercise = run_service(
            form,
            lambda: services.create_exercise(acting_user(request), **form.service_fields()),
        )
        if exercise is not None:
            messages.success(request, _("Exercise saved as a draft: add its injects."))
            return redirect("exercise-detail", pk=exercise.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "drills/exercise_form.html", {"form": form}, status=status)


def _context(request: HttpRequest, exercise: Exercise) -> dict[str, Any]:
    user = request.user
    return {
        "exercise": exercise,
        "scenario": _bilingual(exercise.scenario_en, exercise.scenario_zh_hant),
        "teams": selectors.teams(exercise, user),
        "may_control": can(user, "exercise.control", exercise),
        "may_evaluate": can(user, "exercise.evaluate", exercise),
    }


@login_required
def exercise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The scenario, the teams, and the injects the reader may see; a player answers
    each expectation for their own team here."""
    exercise = _exercise(request, pk)
    context = _context(request, exercise)
    playing = [t for t in context["teams"] if can(request.user, "exercise.play", t)]
    answered = {
        (r.expectation_id, r.team_id): r
        for r in selectors.responses(request.user).filter(team__in=playing)
    }
    rows = []
    for inject in selectors.injects(exercise, request.user):
        mine = [t for t in playing if t in inject.teams.all()]
        rows.append(
            {
                "inject": inject,
                "body": _bilingual(inject.body_en, inject.body_zh_hant),
                "due_at": services.due_at(exercise, inject),
                "answers": [
                    (e, t, answered.get((e.pk, t.pk)))
                    for e in inject.expectations.all()
                    for t in mine
                ],
            }
        )
    if context["may_control"]:
        context.update(
            player_forms=[forms.PlayersForm(team=t) for t in context["teams"]],
            evaluators_form=forms.EvaluatorsForm(exercise=exercise),
            may_name=exercise.state in (Exercise.State.DRAFT, Exercise.State.RUNNING),
        )
    context.update(
        rows=rows,
        inject_form=forms.InjectForm(),
        response_form=forms.ResponseForm(),
        may_respond=exercise.state == Exercise.State.RUNNING,
    )
    return render(request, "drills/exercise_detail.html", context)


ACTIONS: dict[str, tuple[Callable[[Any, Exercise], Any], Any]] = {
    "start": (services.start, gettext_lazy("Exercise started.")),
    "end": (services.end, gettext_lazy("Exercise ended.")),
    "publish": (services.publish_report, gettext_lazy("After-action report published.")),
    "deliver-due": (services.deliver_due_now, gettext_lazy("Due injects delivered.")),
}


@login_required
@require_POST
def exercise_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    exercise = _exercise(request, pk)
    if verb not in ACTIONS:
        raise Http404
    call, done = ACTIONS[verb]
    _attempt(request, lambda: call(acting_user(request), exercise), str(done))
    if verb == "publish":
        return redirect("exercise-report", pk=pk)
    back = "exercise-timeline" if request.POST.get("next") == "timeline" else "exercise-detail"
    return redirect(back, pk=pk)


@login_required
@require_POST
def inject_add(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    form = forms.InjectForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(
                request,
                f"{label}: {' '.join(map(str, errors))}" if label else " ".join(map(str, errors)),
            )
        return redirect("exercise-detail", pk=pk)
    data = form.cleaned_data
    _attempt(
        request,
        lambda: services.add_inject(
            acting_user(request),
            exercise,
            title=data["title"],
            body_en=data["body_en"],
            body_zh_hant=data["body_zh_hant"],
            offset_minutes=data["offset_minutes"],
            channel=data["channel"],
            expectations=form.expectations(),
        ),
        _("Inject added."),
    )
    return redirect("exercise-detail", pk=pk)


def _form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        text = " ".join(map(str, errors))
        messages.error(request, f"{label}: {text}" if label else text)


@login_required
def inject_edit(request: HttpRequest, pk: int, inject: int) -> HttpResponse:
    """The control team changes an inject (and its expectations) not delivered yet; a
    delivered inject is shown as immutable, without the form."""
    exercise = _exercise(request, pk)
    row = get_object_or_404(selectors.injects(exercise, request.user), pk=inject)
    if not can(request.user, "exercise.control", exercise):
        raise PermissionDenied
    form = forms.InjectForm(request.POST) if request.method == "POST" else forms.InjectForm.of(row)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = run_service(
            form,
            lambda: services.update_inject(
                acting_user(request), row, title=data["title"], body_en=data["body_en"],
                body_zh_hant=data["body_zh_hant"], offset_minutes=data["offset_minutes"],
                channel=data["channel"], teams=list(row.teams.all()),
                expectations=form.expectations(),
            ),
        )  # fmt: skip
        if done is not None:
            messages.success(request, _("Inject saved."))
            return redirect(f"{reverse('exercise-detail', args=[pk])}#inject-{row.pk}")
    context = _context(request, exercise)
    context.update(inject=row, form=form, locked=row.delivered_at is not None)
    status = 400 if request.method == "POST" else 200
    return render(request, "drills/exercise_inject_form.html", context, status=status)


@login_required
@require_POST
def inject_delete(request: HttpRequest, pk: int, inject: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    row = get_object_or_404(selectors.injects(exercise, request.user), pk=inject)
    _attempt(
        request, lambda: services.delete_inject(acting_user(request), row), _("Inject deleted.")
    )
    return redirect("exercise-detail", pk=pk)


@login_required
@require_POST
def players(request: HttpRequest, pk: int, team: int) -> HttpResponse:
    """The control team names a team's players (none: every member of the agency)."""
    exercise = _exercise(request, pk)
    squad = get_object_or_404(selectors.teams(exercise, request.user), pk=team)
    form = forms.PlayersForm(request.POST, team=squad)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        _attempt(
            request,
            lambda: services.set_players(acting_user(request), squad, form.cleaned_data["players"]),
            _("Players saved."),
        )
    return redirect(f"{reverse('exercise-detail', args=[pk])}#players")


@login_required
@require_POST
def evaluators(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    form = forms.EvaluatorsForm(request.POST, exercise=exercise)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        _attempt(
            request,
            lambda: services.set_evaluators(
                acting_user(request), exercise, form.cleaned_data["evaluators"]
            ),
            _("Evaluators saved."),
        )
    return redirect(f"{reverse('exercise-detail', args=[pk])}#evaluators")


@login_required
def timeline_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The timeline as CSV, over what the reader may see (a player: their own team)."""
    exercise = _exercise(request, pk)
    header, lines = export.csv_rows(selectors.timeline(exercise, request.user))
    return csvexport.response(f"exercise-{exercise.pk}-timeline.csv", header, lines)


@login_required
def timeline_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """`timeline.pdf?lang=en|zh-Hant` (default: the page's language)."""
    exercise = _exercise(request, pk)
    lang = (request.GET.get("lang") or translation.get_language() or "en")[:16]
    try:
        pdf = export.render_pdf(exercise, request.user, lang)
    except printing.BadPdfLanguage as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    label = printing.LANGUAGE_LABELS[printing.language_code(lang)]
    return printing.pdf_response(pdf, f"exercise-{exercise.pk}-timeline-{label}.pdf")


@login_required
@require_POST
def inject_deliver(request: HttpRequest, pk: int, inject: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    row = get_object_or_404(selectors.injects(exercise, request.user), pk=inject)
    _attempt(request, lambda: services.deliver(acting_user(request), row), _("Inject delivered."))
    return redirect("exercise-timeline", pk=pk)


def _cell(request: HttpRequest, exercise: Exercise, expectation: int, team: int) -> Any:
    """The expectation and team named in the path, among those the reader may see."""
    found = get_object_or_404(selectors.expectations(exercise, request.user), pk=expectation)
    return found, get_object_or_404(selectors.teams(exercise, request.user), pk=team)


@login_required
@require_POST
def respond(request: HttpRequest, pk: int, expectation: int, team: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    found, squad = _cell(request, exercise, expectation, team)
    form = forms.ResponseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the team's response."))
    else:
        _attempt(
            request,
            lambda: services.respond(
                acting_user(request), found, squad, text=form.cleaned_data["text"]
            ),
            _("Response sent."),
        )
    return redirect("exercise-detail", pk=pk)


@login_required
@require_POST
def score(request: HttpRequest, pk: int, expectation: int, team: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    found, squad = _cell(request, exercise, expectation, team)
    form = forms.ScoreForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a whole-number score."))
    else:
        data = form.cleaned_data
        _attempt(
            request,
            lambda: services.score(
                acting_user(request), found, squad, points=data["score"], comment=data["comment"]
            ),
            _("Score saved."),
        )
    return redirect("exercise-timeline", pk=pk)


@login_required
def timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The live exercise: each inject with when it is due and was delivered, and per
    expectation and team the response and the score as they come. The page reloads
    itself every 30 seconds while the exercise runs (a Refresh header: no script)."""
    exercise = _exercise(request, pk)
    context = _context(request, exercise)
    rows = selectors.timeline(exercise, request.user)
    context.update(
        rows=rows,
        scores=selectors.team_scores(exercise, request.user),
        score_form=forms.ScoreForm(),
        refresh=exercise.state == Exercise.State.RUNNING,
        delivered=sum(1 for r in rows if r.inject.delivered_at),
        overdue=sum(1 for r in rows if r.overdue),
    )
    response = render(request, "drills/exercise_timeline.html", context)
    if context["refresh"]:
        response["Refresh"] = str(REFRESH_SECONDS)  # a header: no script, no inline markup
    return response


@login_required
def report(request: HttpRequest, pk: int) -> HttpResponse:
    """The after-action report: lessons learned (the control team's while it writes
    them, everyone's once published), each team's score, and the improvement items."""
    exercise = _exercise(request, pk)
    context = _context(request, exercise)
    form = forms.LessonsForm(request.POST or None, initial={"lessons": exercise.lessons})
    if request.method == "POST":
        user = acting_user(request)
        if form.is_valid() and run_service(
            form,
            lambda: services.write_lessons(user, exercise, lessons=form.cleaned_data["lessons"]),
        ):
            messages.success(request, _("Lessons learned saved."))
            return redirect("exercise-report", pk=pk)
    shown = exercise.state == Exercise.State.REPORTED or context["may_control"]
    items = selectors.items(request.user).filter(exercise=exercise)
    context.update(
        lessons=_markdown(exercise.lessons) if shown else None,
        form=form,
        scores=selectors.team_scores(exercise, request.user),
        items=[(i, can(request.user, "exercise.item", i)) for i in items],
        item_form=forms.ItemForm(exercise=exercise),
        progress_form=forms.ItemProgressForm(),
    )
    return render(
        request, "drills/exercise_report.html", context,
        status=400 if request.method == "POST" else 200,
    )  # fmt: skip


@login_required
@require_POST
def item_add(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = _exercise(request, pk)
    form = forms.ItemForm(request.POST, exercise=exercise)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(
                request,
                f"{label}: {' '.join(map(str, errors))}" if label else " ".join(map(str, errors)),
            )
    else:
        data = form.cleaned_data
        _attempt(
            request,
            lambda: services.add_item(
                acting_user(request),
                exercise,
                organisation=data["organisation"],
                title=data["title"],
                owner=data["owner"],
                due_on=data["due_on"],
            ),
            _("Improvement item added."),
        )
    return redirect("exercise-report", pk=pk)


@login_required
@require_POST
def item_update(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(selectors.items(request.user), pk=pk)
    form = forms.ItemProgressForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose open, in progress or done."))
    else:
        data = form.cleaned_data
        _attempt(
            request,
            lambda: services.update_item(
                acting_user(request), item, state=data["state"], note=data["note"]
            ),
            _("Improvement item updated."),
        )
    return redirect("exercise-report", pk=item.exercise_id)
