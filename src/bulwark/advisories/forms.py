"""Advisory forms. Lists (CVEs, products, indicators) are typed one per line."""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bulwark.advisories import matching, services
from bulwark.advisories.models import (
    MAX_ATTACHMENT_BYTES,
    MAX_BODY_CHARS,
    SEVERITY_CHOICES,
    TLP_CHOICES,
    AdvisoryCategory,
    Publication,
    Response,
    Target,
)
from bulwark.constituency.models import Organisation, OrganisationKind, Sector

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


_T = TypeVar("_T")


def _on_field(clean: Callable[[list[Any]], _T], items: list[Any]) -> _T:
    """Run a service's cleaner inside a form's `clean_<field>`: the service names the field
    in its error (for the API), which a field cleaner must not (Django would raise a
    TypeError, a 500 that loses everything typed)."""
    try:
        return clean(items)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None


class AdvisoryForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    title_zh_hant = forms.CharField(
        label=_("Title (Traditional Chinese)"), max_length=200, required=False
    )
    category = forms.ModelChoiceField(label=_("Category"), queryset=AdvisoryCategory.objects.all())
    severity = forms.ChoiceField(label=_("Severity"), choices=SEVERITY_CHOICES, initial="high")
    tlp = forms.ChoiceField(label=_("TLP"), choices=TLP_CHOICES, initial="amber")
    publication = forms.ChoiceField(
        label=_("Publish on the public pages (TLP:CLEAR only)"),
        choices=Publication.choices,
        required=False,
    )
    summary = forms.CharField(
        label=_("Summary"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    summary_zh_hant = forms.CharField(
        label=_("Summary (Traditional Chinese)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    body = forms.CharField(
        label=_("Body (Markdown)"),
        max_length=MAX_BODY_CHARS,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    body_zh_hant = forms.CharField(
        label=_("Body (Markdown, Traditional Chinese)"),
        max_length=MAX_BODY_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    cves = forms.CharField(
        label=_("CVEs (one per line: CVE id, CVSS score, CVSS vector)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    affected_products = forms.CharField(
        label=_("Affected products (one per line: a CPE 2.3 name, or vendor product range)"),
        help_text=_("e.g. apache http_server >=2.4.0,<2.4.60"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    recommended_actions = forms.CharField(
        label=_("Recommended actions (Markdown)"),
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    recommended_actions_zh_hant = forms.CharField(
        label=_("Recommended actions (Markdown, Traditional Chinese)"),
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    response_required = forms.ChoiceField(
        label=_("Required response"), choices=Response.choices, initial="acknowledge"
    )
    response_deadline = forms.DateTimeField(
        label=_("Response deadline (local time)"), required=False, widget=DATETIME
    )
    related_indicators = forms.CharField(
        label=_("Related indicators (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    target_all = forms.BooleanField(label=_("All agencies"), required=False)
    target_sectors = forms.ModelMultipleChoiceField(
        label=_("Sectors"), queryset=Sector.objects.all(), required=False
    )
    target_authorities = forms.ModelMultipleChoiceField(
        label=_("Authorities (and the agencies under them)"),
        queryset=Organisation.objects.filter(kind=OrganisationKind.AUTHORITY),
        required=False,
    )
    target_organisations = forms.ModelMultipleChoiceField(
        label=_("Organisations"),
        queryset=Organisation.objects.exclude(kind=OrganisationKind.NATIONAL_CERT),
        required=False,
    )
    target_inventory = forms.BooleanField(
        label=_("Agencies whose inventory holds an affected product"), required=False
    )
    note = forms.CharField(
        label=_("What changed (shown to recipients of a sent advisory)"),
        max_length=1000,
        required=False,
    )

    def clean_cves(self) -> list[dict[str, Any]]:
        items = []
        for line in _lines(self.cleaned_data["cves"]):
            # As the label shows: `CVE-2026-12345, 9.8, CVSS:3.1/...`; commas are optional.
            parts = line.replace(",", " ").split()
            item: dict[str, Any] = {"id": parts[0]}
            for part in parts[1:]:
                if part.upper().startswith("CVSS:"):
                    item["cvss_vector"] = part
                else:
                    item["cvss_score"] = part
            items.append(item)
        return _on_field(services.clean_cves, items)

    def clean_affected_products(self) -> list[Any]:
        items: list[Any] = []
        for line in _lines(self.cleaned_data["affected_products"]):
            if line.lower().startswith(matching.CPE_PREFIX):
                items.append(line)
                continue
            parts = line.split(None, 2)
            if len(parts) < 2:
                raise ValidationError(
                    _("Write a CPE name or: vendor product [range]: %(l)s") % {"l": line[:80]}
                )
            items.append(
                {
                    "vendor": parts[0],
                    "product": parts[1],
                    "versions": parts[2].replace(" ", "") if len(parts) > 2 else "",
                }
            )
        return _on_field(services.clean_products, items)

    def clean_related_indicators(self) -> list[str]:
        return _lines(self.cleaned_data["related_indicators"])

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("note", None)
        data["publication"] = data.get("publication") or ""
        return data

    @staticmethod
    def initial_from(advisory: Any) -> dict[str, Any]:
        initial = {f: getattr(advisory, f) for f in services.CONTENT_FIELDS}
        initial["cves"] = "\n".join(
            " ".join(str(c[k]) for k in ("id", "cvss_score", "cvss_vector") if c.get(k) is not None)
            for c in advisory.cves
        )
        initial["affected_products"] = "\n".join(
            f"{p['vendor']} {p['product']} {p.get('versions', '')}".strip()
            for p in advisory.affected_products
        )
        initial["related_indicators"] = "\n".join(advisory.related_indicators)
        for field in services.TARGET_FIELDS:
            initial[field] = list(getattr(advisory, field).values_list("pk", flat=True))
        return initial


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=1000)


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("Attachment"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                _("The file is %(size)d bytes; the limit is %(limit)d bytes.")
                % {"size": upload.size, "limit": MAX_ATTACHMENT_BYTES}
            )
        return upload


class ResponseForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action taken"), choices=[c for c in Target.Action.choices if c[0]]
    )
    note = forms.CharField(
        label=_("Note"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class InventoryForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none()
    )
    cpe = forms.CharField(label=_("CPE 2.3 name"), max_length=500, required=False)
    vendor = forms.CharField(label=_("Vendor"), max_length=100, required=False)
    product = forms.CharField(label=_("Product"), max_length=100, required=False)
    version = forms.CharField(label=_("Version"), max_length=100, required=False)

    def __init__(self, *args: Any, organisations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organisations is not None:
            self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
