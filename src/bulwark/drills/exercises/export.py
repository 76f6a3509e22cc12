"""The exercise timeline exported: a CSV (the platform's one CSV writer, so a cell a
spreadsheet would run as a formula is defused) and a PDF in English or Traditional
Chinese (core/pdf.py). Both are built from `selectors.timeline`, so each reader gets
what the timeline page shows them: the control team and the CERT every team, an
evaluator the exercise it evaluates, a player their own team's part only."""

from collections.abc import Iterator, Sequence
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulwark.core import pdf as printing
from bulwark.core.permissions import Reader
from bulwark.drills.exercises import selectors
from bulwark.drills.models import Exercise


def csv_rows(rows: list[selectors.InjectRow]) -> tuple[list[str], Iterator[Sequence[Any]]]:
    """The header and one line per expectation and team (an inject with no expectation
    or no team the reader may see: one line for the inject alone)."""
    header = [
        _("Minutes after the start"), _("Inject"), _("Channel"), _("Due"), _("Delivered"),
        _("Expectation kind"), _("Expectation"), _("Points"), _("Team"), _("Response"),
        _("Responded"), _("Score"), _("Comment"),
    ]  # fmt: skip

    def lines() -> Iterator[Sequence[Any]]:
        for row in rows:
            inject = row.inject
            head = [
                inject.offset_minutes, inject.title, inject.get_channel_display(), row.due_at,
                inject.delivered_at,
            ]  # fmt: skip
            if not row.cells:
                yield [*head, "", "", "", "", "", "", "", ""]
            for c in row.cells:
                yield [
                    *head, c.expectation.get_kind_display(), c.expectation.description,
                    c.expectation.points, c.team.organisation.name,
                    c.response.text if c.response else "",
                    c.response.submitted_at if c.response else None,
                    c.score.score if c.score else None, c.score.comment if c.score else "",
                ]  # fmt: skip

    return header, lines()


def render_pdf(exercise: Exercise, user: Reader, lang: str) -> bytes:
    """The timeline as a PDF in `lang` (en or zh-Hant; BadPdfLanguage otherwise)."""
    code = printing.language_code(lang)
    with translation.override(code):
        rows = selectors.timeline(exercise, user)
        page = render_to_string(
            "drills/exercise_timeline_pdf.html",
            {
                "lang": printing.LANGUAGE_LABELS[code],
                "font_families": printing.CJK_CSS_FAMILIES,
                "document_title": _("Exercise timeline: %(x)s") % {"x": exercise.title},
                "generated_at": timezone.localtime(),
                "exercise": exercise,
                "rows": rows,
                "scores": selectors.team_scores(exercise, user),
            },
        )
    return printing.print_html(page).pdf
