"""The authoring forms (courses, lessons, exams, questions); the services check and write."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bulwark.training.models import Course, Exam, Lesson, PortalMapping, Question, QuestionKind


class CourseForm(forms.ModelForm[Course]):
    class Meta:
        model = Course
        fields = ["code", "title", "title_zh_hant", "summary", "summary_zh_hant", "hours",
                  "hours_kind", "prerequisites"]  # fmt: skip


class LessonForm(forms.ModelForm[Lesson]):
    video_url = forms.URLField(label=_("video link"), required=False, assume_scheme="https")

    class Meta:
        model = Lesson
        fields = ["position", "title", "title_zh_hant", "body", "body_zh_hant", "video_url",
                  "attachment"]  # fmt: skip


class ExamForm(forms.ModelForm[Exam]):
    class Meta:
        model = Exam
        fields = ["questions_per_attempt", "pass_mark", "time_limit_minutes", "max_attempts",
                  "retake_wait_hours"]  # fmt: skip


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=QuestionKind.choices)
    text = forms.CharField(label=_("question"), widget=forms.Textarea(attrs={"rows": 2}))
    text_zh_hant = forms.CharField(
        label=_("question (Traditional Chinese)"), required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    options = forms.CharField(
        label=_("options"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One option a line; start the right ones with *. English | 中文 on one line. "
            "True/false: write * true or * false."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lines = [line.strip() for line in str(data.get("options", "")).splitlines() if line.strip()]
        if data.get("kind") == QuestionKind.TRUE_FALSE:
            right = next((line.lstrip("* ").lower() for line in lines if line.startswith("*")), "")
            if right not in ("true", "false"):
                raise forms.ValidationError(_("Mark the right answer: * true or * false."))
            data["parsed"] = [
                {"id": "true", "text": "True", "text_zh_hant": "是", "correct": right == "true"},
                {"id": "false", "text": "False", "text_zh_hant": "否", "correct": right == "false"},
            ]
            return data
        parsed = []
        for index, line in enumerate(lines):
            correct = line.startswith("*")
            text, _sep, zh = line.lstrip("* ").partition("|")
            parsed.append({"id": chr(97 + index) if index < 26 else f"o{index}",
                           "text": text.strip(), "text_zh_hant": zh.strip(),
                           "correct": correct})  # fmt: skip
        data["parsed"] = parsed
        return data


class CourseEditForm(forms.ModelForm[Course]):
    """A written course's texts, hours and prerequisites (its code stays: links carry it)."""

    class Meta:
        model = Course
        fields = ["title", "title_zh_hant", "summary", "summary_zh_hant", "hours", "hours_kind",
                  "prerequisites"]  # fmt: skip


def options_text(question: Question) -> str:
    """A question's options as the form writes them (one a line, right ones starred)."""
    lines = []
    for option in question.options if isinstance(question.options, list) else []:
        if not isinstance(option, dict):
            continue
        star = "* " if option.get("correct") else ""
        if question.kind == QuestionKind.TRUE_FALSE:
            lines.append(f"{star}{option.get('id', '')}")
            continue
        zh = str(option.get("text_zh_hant", ""))
        lines.append(f"{star}{option.get('text', '')}" + (f" | {zh}" if zh else ""))
    return "\n".join(lines)


def question_initial(question: Question) -> dict[str, Any]:
    return {"kind": question.kind, "text": question.text, "text_zh_hant": question.text_zh_hant,
            "options": options_text(question)}  # fmt: skip


class MappingForm(forms.ModelForm[PortalMapping]):
    class Meta:
        model = PortalMapping
        fields = ["name", "email", "staff_id", "title", "date", "hours", "kind", "provider",
                  "record_id", "professional", "general"]  # fmt: skip
        help_texts = {
            "professional": _("Values separated by ;"),
            "general": _("Values separated by ;"),
        }

    def validate_unique(self) -> None:
        """Saving under an existing portal name replaces that mapping (the service)."""
