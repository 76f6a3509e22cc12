"""The findings pages' forms."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.models import Organisation, User
from bulwark.findings import deadlines
from bulwark.findings.models import (
    RESPONSIBILITY_LEVELS,
    ChecklistItem,
    EngagementKind,
    Severity,
)

TOOLS = [
    ("", _("Detect from the content")),
    ("nessus", "Nessus (.nessus v2)"),
    ("openvas", "OpenVAS / Greenbone XML"),
    ("zap", "OWASP ZAP (XML or JSON)"),
    ("nuclei", "Nuclei (JSONL)"),
    ("burp", "Burp Suite XML"),
    ("sarif", "SARIF 2.1"),
    ("nmap", "Nmap XML"),
    ("csv", _("CSV (columns mapped on the next page)")),
]
# The fields a CSV column can be mapped to (engine.csvmap.FIELDS), as the page names them.
CSV_FIELD_LABELS = {
    "title": _("Title"),
    "severity": _("Severity (a word or a 0-10 score)"),
    "host": _("Host"),
    "port": _("Port"),
    "protocol": _("Protocol"),
    "service": _("Service"),
    "url": _("URL"),
    "rule_id": _("Rule or plugin id"),
    "location": _("Location (parameter, path)"),
    "cves": _("CVEs"),
    "cwes": _("CWEs"),
    "cvss_vector": _("CVSS vector"),
    "cvss_score": _("CVSS score"),
    "description": _("Description"),
    "solution": _("Solution"),
    "references": _("References"),
    "evidence": _("Tool output"),
    "observed_at": _("Observed at"),
}


class EngagementForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("Agency"), queryset=Organisation.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=EngagementKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    scope = forms.CharField(
        label=_("Scope"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Hosts, networks and URLs in scope, one per line."),
    )
    scope_items = forms.ModelMultipleChoiceField(
        label=_("Products in scope (from the agency's inventory)"),
        queryset=InventoryItem.objects.none(),
        required=False,
    )
    starts_on = forms.DateField(
        label=_("Starts on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=_("Ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    lead = forms.ModelChoiceField(label=_("Lead"), queryset=User.objects.none(), required=False)
    team = forms.ModelMultipleChoiceField(
        label=pgettext_lazy("engagement", "Team"), queryset=User.objects.none(), required=False
    )
    deadline_profile = forms.ChoiceField(label=_("Remediation deadline profile"), choices=())

    def __init__(self, *args: Any, organisations: Any = None, staff: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if organisations is not None:
            self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
            self.fields["scope_items"].queryset = (  # type: ignore[attr-defined]
                InventoryItem.objects.filter(organisation__in=organisations).select_related(
                    "organisation"
                )
            )
        if staff is not None:
            self.fields["lead"].queryset = staff  # type: ignore[attr-defined]
            self.fields["team"].queryset = staff  # type: ignore[attr-defined]
        self.fields["deadline_profile"].choices = [  # type: ignore[attr-defined]
            (p.code, p.name) for p in deadlines.profiles().values()
        ]
        self.fields["deadline_profile"].initial = deadlines.DEFAULT_PROFILE


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Scanner output"))
    tool = forms.ChoiceField(label=_("Tool"), choices=TOOLS, required=False)
    full_rescan = forms.BooleanField(
        label=_("Full re-scan of the scanned hosts"),
        required=False,
        initial=True,
        help_text=_(
            "Findings of this tool on the scanned hosts that this file no longer reports are "
            "marked mitigated. Untick for a partial scan."
        ),
    )


class ManualFindingForm(forms.Form):
    checklist_item = forms.ModelChoiceField(
        label=_("Checklist item"), queryset=ChecklistItem.objects.none(), required=False
    )
    title = forms.CharField(label=_("Title"), max_length=500, required=False)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, required=False)
    host = forms.CharField(label=_("Host"), max_length=255, required=False)
    port = forms.IntegerField(label=_("Port"), min_value=0, max_value=65535, required=False)
    url = forms.CharField(label=_("URL"), max_length=2000, required=False)
    cvss_vector = forms.CharField(label=_("CVSS vector"), max_length=200, required=False)
    cves = forms.CharField(label=_("CVEs"), max_length=500, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    solution = forms.CharField(
        label=_("Solution"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, items: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if items is not None:
            self.fields["checklist_item"].queryset = items  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        item = data.get("checklist_item")
        if item is not None:
            data["title"] = data.get("title") or item.title
            data["severity"] = data.get("severity") or item.severity
        if not data.get("title"):
            self.add_error("title", _("A finding needs a title (or a checklist item)."))
        if not data.get("severity"):
            self.add_error("severity", _("Choose a severity."))
        return data


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class FixForm(forms.Form):
    note = forms.CharField(
        label=_("How it was fixed"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    evidence = forms.FileField(label=_("Evidence file"), required=False)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=User.objects.none())

    def __init__(self, *args: Any, people: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if people is not None:
            self.fields["assignee"].queryset = people  # type: ignore[attr-defined]


class RiskForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the risk is acceptable"), widget=forms.Textarea(attrs={"rows": 2})
    )
    expires_on = forms.DateField(
        label=_("Accepted until"), widget=forms.DateInput(attrs={"type": "date"})
    )


class ChecklistForm(forms.Form):
    kind = forms.ChoiceField(label=_("Engagement kind"), choices=EngagementKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    level = forms.ChoiceField(
        label=_("Responsibility level"),
        choices=[("", _("Any level"))] + [(v, v) for v in RESPONSIBILITY_LEVELS],
        required=False,
        help_text=_(
            "An engagement of an agency of this level (as recorded in its training "
            "settings) is offered this checklist rather than those for any level."
        ),
    )
    items = forms.CharField(
        label=_("Items"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "One item a line: reference | severity (critical, high, medium, low, info) | "
            "title | guidance (optional)."
        ),
    )

    def clean_items(self) -> list[tuple[str, str, str, str]]:
        rows: list[tuple[str, str, str, str]] = []
        for number, line in enumerate(str(self.cleaned_data["items"]).splitlines(), 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 3 or not parts[0] or not parts[2]:
                raise forms.ValidationError(
                    _("Line %(n)d: write reference | severity | title | guidance.") % {"n": number}
                )
            if parts[1].lower() not in Severity.values:
                raise forms.ValidationError(
                    _("Line %(n)d: unknown severity %(s)s.") % {"n": number, "s": parts[1]}
                )
            guidance = parts[3] if len(parts) > 3 else ""
            rows.append((parts[0][:30], parts[2][:300], parts[1].lower(), guidance))
        if not rows:
            raise forms.ValidationError(_("A checklist needs at least one item."))
        return rows
