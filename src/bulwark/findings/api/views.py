"""Findings API: reads through `visible_to`, every write through a service."""

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.advisories.models import InventoryItem
from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation, User
from bulwark.core.api.parsers import MultiPartParser
from bulwark.core.permissions import can
from bulwark.findings import selectors, services
from bulwark.findings.engine import csvmap
from bulwark.findings.models import (
    Checklist,
    ChecklistItem,
    ChecklistOutcome,
    ChecklistResult,
    DedupeDecision,
    Engagement,
    EngagementKind,
    EngagementStatus,
    Finding,
    FindingStatus,
    RemediationEvent,
    RiskAcceptance,
    ScanImport,
    ScannedService,
    Severity,
    StatusChange,
)


class EngagementSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    status = serializers.CharField(read_only=True, help_text=", ".join(EngagementStatus.values))

    class Meta:
        model = Engagement
        fields = [
            "id",
            "organisation",
            "organisation_name",
            "kind",
            "title",
            "scope",
            "scope_items",
            "starts_on",
            "ends_on",
            "lead",
            "team",
            "status",
            "deadline_profile",
            "report_delivered_at",
            "report_note",
            "created_at",
        ]
        read_only_fields = ["status", "report_delivered_at", "report_note", "created_at"]


class EngagementWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    kind = serializers.ChoiceField(choices=EngagementKind.choices)
    title = serializers.CharField(max_length=200)
    scope = serializers.CharField(required=False, allow_blank=True, default="")
    starts_on = serializers.DateField(required=False, allow_null=True, default=None)
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True, default=None
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), many=True, required=False, default=list
    )
    scope_items = serializers.PrimaryKeyRelatedField(
        queryset=InventoryItem.objects.all(), many=True, required=False, default=list
    )
    deadline_profile = serializers.CharField(required=False, default="default")


class EngagementStatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField(max_length=20)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ScanImportSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ScanImport
        fields = [
            "id",
            "engagement",
            "tool",
            "file_name",
            "sha256",
            "size",
            "full_rescan",
            "state",
            "error",
            "new",
            "duplicate",
            "mitigated",
            "reopened",
            "services",
            "column_mapping",
            "imported_at",
            "processed_at",
        ]


class ScanUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField()
    tool = serializers.CharField(required=False, allow_blank=True, default="")
    full_rescan = serializers.BooleanField(required=False, default=True)
    mapping = serializers.JSONField(
        required=False,
        default=dict,
        binary=True,  # a JSON text in a multipart form
        help_text=(
            "CSV only: a JSON object of our field -> the file's column, e.g. "
            '{"title": "Vulnerability", "severity": "Risk", "host": "IP"}; fields: '
            + ", ".join(csvmap.FIELDS)
            + ". Without it the columns are recognised by their names."
        ),
    )


class CsvPreviewRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField()
    mapping = serializers.JSONField(required=False, default=dict, binary=True)


class CsvPreviewFindingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    title = serializers.CharField()
    severity = serializers.CharField()
    host = serializers.CharField(source="asset.host")
    port = serializers.IntegerField(source="asset.port", allow_null=True)
    url = serializers.CharField(source="asset.url")
    rule_id = serializers.CharField()
    cves = serializers.ListField(child=serializers.CharField())


class CsvPreviewSerializer(serializers.Serializer):  # type: ignore[type-arg]
    header = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    columns = serializers.DictField(child=serializers.CharField())
    findings = CsvPreviewFindingSerializer(many=True)
    error = serializers.CharField()


class FindingIncidentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    incident = serializers.IntegerField()
    reference = serializers.CharField()
    created = serializers.BooleanField()


class ScannedServiceSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ScannedService
        fields = ["host", "port", "protocol", "service", "product", "first_seen", "last_seen"]


class FindingSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    # Plain strings in the schema: an enum named "status" or "severity" would clash with
    # the incidents' and advisories' enums of the same field names.
    status = serializers.CharField(read_only=True, help_text=", ".join(FindingStatus.values))
    severity = serializers.CharField(read_only=True, help_text=", ".join(Severity.values))

    class Meta:
        model = Finding
        fields = [
            "id",
            "organisation",
            "organisation_name",
            "engagement",
            "fingerprint",
            "tool",
            "rule_id",
            "title",
            "severity",
            "cvss_vector",
            "cvss_score",
            "cves",
            "cwes",
            "host",
            "port",
            "protocol",
            "service",
            "url",
            "location",
            "status",
            "assignee",
            "deadline",
            "first_seen",
            "last_seen",
            "fixed_at",
            "mitigated_at",
            "closed_at",
            "reopened_count",
            "false_positive_reason",
            "epss",
            "kev",
            "recorded_at",
            "incident",
            "inventory_item",
        ]


class FindingDetailSerializer(FindingSerializer):
    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "description", "solution", "references"]


class FindingDecisionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    explanation = serializers.CharField(read_only=True)

    class Meta:
        model = DedupeDecision
        fields = ["id", "scan", "outcome", "previous_status", "candidates", "reason",
                  "explanation", "at"]  # fmt: skip


class FindingEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = RemediationEvent
        fields = ["id", "kind", "actor", "at", "note", "evidence_name", "evidence_sha256"]


class FindingNoteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    note = serializers.CharField(required=False, allow_blank=True, default="")


class FindingAssignSerializer(FindingNoteSerializer):
    assignee = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))


class FindingFixSerializer(FindingNoteSerializer):
    evidence = serializers.FileField(required=False, allow_null=True, default=None)


class FindingRetestSerializer(FindingNoteSerializer):
    passed = serializers.BooleanField()


class FindingRiskSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField()
    expires_on = serializers.DateField()


class FindingRiskDecisionSerializer(FindingNoteSerializer):
    acceptance = serializers.IntegerField()
    approve = serializers.BooleanField()


class ChecklistItemSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    severity = serializers.CharField(help_text=", ".join(Severity.values))

    class Meta:
        model = ChecklistItem
        fields = ["id", "ref", "title", "severity", "guidance", "order"]
        read_only_fields = ["id", "order"]


class ChecklistSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    items = ChecklistItemSerializer(many=True, read_only=True)
    level = serializers.CharField(
        read_only=True, help_text="The agencies' responsibility level (A-E); empty: any."
    )

    class Meta:
        model = Checklist
        fields = ["id", "kind", "title", "level", "active", "items"]


class ChecklistWriteItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ref = serializers.CharField(max_length=30)
    title = serializers.CharField(max_length=300)
    severity = serializers.CharField(max_length=10, help_text=", ".join(Severity.values))
    guidance = serializers.CharField(required=False, allow_blank=True, default="")


class ChecklistWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=EngagementKind.choices)
    title = serializers.CharField(max_length=200)
    level = serializers.CharField(
        max_length=5, required=False, allow_blank=True, default="",
        help_text="The agencies' responsibility level it is for (A-E); empty: any level.",
    )  # fmt: skip
    items = ChecklistWriteItemSerializer(many=True)


class ChecklistReplaceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    level = serializers.CharField(max_length=5, required=False, allow_blank=True, default=None)
    items = ChecklistWriteItemSerializer(many=True)


class ManualFindingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    checklist_item = serializers.PrimaryKeyRelatedField(
        queryset=ChecklistItem.objects.all(), required=False, allow_null=True, default=None,
        help_text="The checklist item it comes from: its title and severity when not given.",
    )  # fmt: skip
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    severity = serializers.CharField(
        max_length=10, required=False, allow_blank=True, default="",
        help_text=", ".join(Severity.values),
    )  # fmt: skip
    host = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    port = serializers.IntegerField(
        min_value=1, max_value=65535, required=False, allow_null=True, default=None
    )
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    solution = serializers.CharField(required=False, allow_blank=True, default="")
    cvss_vector = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    cves = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, default=list
    )
    inventory_item = serializers.PrimaryKeyRelatedField(
        queryset=InventoryItem.objects.all(), required=False, allow_null=True, default=None
    )


class ChecklistResultSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    ref = serializers.CharField(source="item.ref", read_only=True)
    title = serializers.CharField(source="item.title", read_only=True)
    result = serializers.CharField(read_only=True, help_text=", ".join(ChecklistOutcome.values))

    class Meta:
        model = ChecklistResult
        fields = ["id", "item", "ref", "title", "result", "note", "finding", "recorded_by",
                  "recorded_at"]  # fmt: skip


class ChecklistResultWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    item = serializers.IntegerField(help_text="A checklist item of the engagement's checklist.")
    result = serializers.CharField(max_length=20, help_text=", ".join(ChecklistOutcome.values))
    note = serializers.CharField(required=False, allow_blank=True, default="")
    host = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class EngagementChecklistItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    checklist = serializers.CharField(source="checklist.title")
    ref = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField(help_text=", ".join(Severity.values))
    guidance = serializers.CharField()
    result = serializers.CharField(
        allow_null=True, help_text=", ".join(ChecklistOutcome.values) + "; null: not recorded"
    )
    note = serializers.CharField()
    finding = serializers.IntegerField(allow_null=True)


class EngagementChecklistSerializer(serializers.Serializer):  # type: ignore[type-arg]
    level = serializers.CharField(
        allow_null=True, help_text="The agency's responsibility level, null when not recorded."
    )
    items = EngagementChecklistItemSerializer(many=True)


class StatusChangeSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = StatusChange
        fields = ["id", "from_status", "to_status", "at", "actor", "scan"]


class EngagementViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Engagements you may see: all for CERT staff, your agency's, and an authority's
    agencies'. CERT staff plan them and import scans."""

    scope_resource = "findings"
    serializer_class = EngagementSerializer

    def get_queryset(self) -> QuerySet[Engagement]:
        if getattr(self, "swagger_fake_view", False):
            return Engagement.objects.none()
        return selectors.filter_engagements(
            Engagement.objects.visible_to(self.request.user).select_related("organisation"),
            self.request.query_params,
        ).prefetch_related("team", "scope_items")

    @extend_schema(request=EngagementWriteSerializer, responses={201: EngagementSerializer})
    def create(self, request: Request) -> Response:
        form = EngagementWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        org = data.pop("organisation")
        engagement = services.create_engagement(acting_user(request), org, **data)
        return Response(EngagementSerializer(engagement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EngagementStatusSerializer, responses=EngagementSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str) -> Response:
        form = EngagementStatusSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        engagement = services.change_engagement_status(
            acting_user(request), self.get_object(), **form.validated_data
        )
        return Response(EngagementSerializer(engagement).data)

    @extend_schema(request=ScanUploadSerializer, responses={201: ScanImportSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def imports(self, request: Request, pk: str) -> Response:
        """Import a scanner file (the tool is detected from the content unless named).
        A file that cannot be read answers 400 with the reason; nothing is stored from it
        but the file itself."""
        form = ScanUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        result = services.import_scan(
            acting_user(request),
            self.get_object(),
            upload,
            upload.name,
            tool=form.validated_data["tool"] or None,
            full_rescan=form.validated_data["full_rescan"],
            mapping=form.validated_data["mapping"] or None,
        )
        data = ScanImportSerializer(result.scan).data
        if not result.ok:
            raise ValidationError({"file": [result.error], "import": data["id"]})
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CsvPreviewRequestSerializer, responses=CsvPreviewSerializer)
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser], url_path="csv-preview")
    def csv_preview(self, request: Request, pk: str) -> Response:
        """What a CSV file's first five rows become with a column mapping (or the columns
        recognised by name), without storing anything; `error` says what is wrong."""
        engagement = self.get_object()
        if not can(request.user, "findings.plan", engagement):
            raise PermissionDenied(_("Only CERT staff do this."))
        form = CsvPreviewRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        mapping = form.validated_data["mapping"] or None
        services.checked_mapping(mapping, "csv")
        preview = csvmap.preview(form.validated_data["file"], mapping)
        return Response(CsvPreviewSerializer(preview).data)

    @extend_schema(request=ManualFindingSerializer, responses={201: FindingDetailSerializer})
    @action(detail=True, methods=["post"], url_path="findings")
    def manual_finding(self, request: Request, pk: str) -> Response:
        """Record a finding by hand (an audit's or health check's; CERT staff), free or
        from a checklist item (its title and severity unless given)."""
        form = ManualFindingSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        item = data["checklist_item"]
        if item is not None:
            data["title"] = data["title"] or item.title
            data["severity"] = data["severity"] or item.severity
        if not data["title"].strip():
            raise ValidationError({"title": [_("A finding needs a title (or a checklist item).")]})
        finding = services.add_manual_finding(acting_user(request), self.get_object(), **data)
        answer = FindingDetailSerializer(
            Finding.objects.select_related("organisation").get(pk=finding.pk)
        )
        return Response(answer.data, status=status.HTTP_201_CREATED)

    def _checklist(self, engagement: Engagement) -> dict[str, Any]:
        rows = []
        for item, done in selectors.checklist_rows(engagement):
            rows.append(
                {
                    "id": item.pk,
                    "checklist": item.checklist,
                    "ref": item.ref,
                    "title": item.title,
                    "severity": item.severity,
                    "guidance": item.guidance,
                    "result": done.result if done else None,
                    "note": done.note if done else "",
                    "finding": done.finding_id if done else None,
                }
            )
        level = selectors.agency_level(engagement.organisation_id)
        return EngagementChecklistSerializer({"level": level, "items": rows}).data

    @extend_schema(methods=["GET"], request=None, responses=EngagementChecklistSerializer)
    @extend_schema(
        methods=["POST"],
        request=ChecklistResultWriteSerializer,
        responses={201: ChecklistResultSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def checklist(self, request: Request, pk: str) -> Response:
        """GET: the engagement's checklist (its kind's, for the agency's responsibility
        level when recorded) with each item's result. POST: record an item's result (CERT
        staff): pass, fail (a manual finding is made) or not_applicable."""
        engagement = self.get_object()
        if request.method == "GET":
            return Response(self._checklist(engagement))
        form = ChecklistResultWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        item = selectors.checklist_items(engagement).filter(pk=data.pop("item")).first()
        if item is None:
            raise ValidationError({"item": [_("This item is not on the engagement's checklist.")]})
        row = services.record_checklist_result(acting_user(request), engagement, item, **data)
        return Response(ChecklistResultSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ScannedServiceSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="services")
    def scanned_services(self, request: Request, pk: str) -> Response:
        """The hosts the engagement's scans covered (port 0: the host itself, also when
        found clean) and the open ports seen on them."""
        rows = self.get_object().services.all()[:5000]
        return Response(ScannedServiceSerializer(rows, many=True).data)


class ScanImportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    scope_resource = "findings"
    serializer_class = ScanImportSerializer

    def get_queryset(self) -> QuerySet[ScanImport]:
        if getattr(self, "swagger_fake_view", False):
            return ScanImport.objects.none()
        scans = ScanImport.objects.visible_to(self.request.user)
        engagement = selectors._int(self.request.query_params, "engagement")
        return scans if engagement is None else scans.filter(engagement_id=engagement)


class FindingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Findings you may see, filtered like the findings page (status, severity,
    organisation, engagement, host, cve, tool, due=soon|overdue, kev, q); every step of
    the remediation workflow as an action."""

    scope_resource = "findings"

    def get_queryset(self) -> QuerySet[Finding]:
        if getattr(self, "swagger_fake_view", False):
            return Finding.objects.none()
        return selectors.filter_findings(
            Finding.objects.visible_to(self.request.user).select_related("organisation"),
            self.request.query_params,
        ).order_by("-pk")

    def get_serializer_class(self) -> Any:
        return FindingSerializer if self.action == "list" else FindingDetailSerializer

    def _answer(self, finding: Finding) -> Response:
        return Response(FindingDetailSerializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=None, responses=FindingDecisionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def decisions(self, request: Request, pk: str) -> Response:
        """Every import decision about this finding, with its explanation."""
        finding = self.get_object()
        rows = finding.decisions.all()[:200]
        return Response(FindingDecisionSerializer(rows, many=True).data)

    @extend_schema(request=None, responses=StatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="status-history")
    def status_history(self, request: Request, pk: str) -> Response:
        """Every change of the finding's status: from, to, when, who (or the import)."""
        rows = self.get_object().status_changes.all()[:500]
        return Response(StatusChangeSerializer(rows, many=True).data)

    @extend_schema(request=None, responses=FindingEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str) -> Response:
        return Response(FindingEventSerializer(self.get_object().events.all(), many=True).data)

    @extend_schema(request=FindingAssignSerializer, responses=FindingDetailSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        form = FindingAssignSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        finding = services.assign(
            acting_user(request),
            self.get_object(),
            form.validated_data["assignee"],
            form.validated_data["note"],
        )
        return self._answer(finding)

    @extend_schema(request=FindingNoteSerializer, responses=FindingDetailSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        form = FindingNoteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._answer(
            services.start(acting_user(request), self.get_object(), form.validated_data["note"])
        )

    @extend_schema(request=FindingFixSerializer, responses=FindingDetailSerializer)
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def fix(self, request: Request, pk: str) -> Response:
        form = FindingFixSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["evidence"]
        finding = services.mark_fixed(
            acting_user(request),
            self.get_object(),
            form.validated_data["note"],
            upload,
            upload.name if upload is not None else "",
        )
        return self._answer(finding)

    @extend_schema(request=FindingRetestSerializer, responses=FindingDetailSerializer)
    @action(detail=True, methods=["post"])
    def retest(self, request: Request, pk: str) -> Response:
        form = FindingRetestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        finding = services.retest(
            acting_user(request),
            self.get_object(),
            passed=form.validated_data["passed"],
            note=form.validated_data["note"],
        )
        return self._answer(finding)

    @extend_schema(request=FindingNoteSerializer, responses=FindingDetailSerializer)
    @action(detail=True, methods=["post"], url_path="false-positive")
    def false_positive(self, request: Request, pk: str) -> Response:
        form = FindingNoteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        finding = services.mark_false_positive(
            acting_user(request), self.get_object(), form.validated_data["note"]
        )
        return self._answer(finding)

    @extend_schema(request=FindingRiskSerializer, responses={201: None})
    @action(detail=True, methods=["post"], url_path="risk-acceptance")
    def risk_acceptance(self, request: Request, pk: str) -> Response:
        form = FindingRiskSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        acceptance = services.request_risk_acceptance(
            acting_user(request), self.get_object(), **form.validated_data
        )
        return Response({"acceptance": acceptance.pk}, status=status.HTTP_201_CREATED)

    @extend_schema(request=FindingRiskDecisionSerializer, responses=FindingDetailSerializer)
    @action(detail=True, methods=["post"], url_path="risk-decision")
    def risk_decision(self, request: Request, pk: str) -> Response:
        form = FindingRiskDecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        finding = self.get_object()
        acceptance = RiskAcceptance.objects.filter(
            finding=finding, pk=form.validated_data["acceptance"]
        ).first()
        if acceptance is None:
            raise NotFound
        services.decide_risk_acceptance(
            acting_user(request),
            acceptance,
            approve=form.validated_data["approve"],
            note=form.validated_data["note"],
        )
        return self._answer(finding)

    @extend_schema(
        request=None, responses={200: FindingIncidentSerializer, 201: FindingIncidentSerializer}
    )
    @action(detail=True, methods=["post"])
    def incident(self, request: Request, pk: str) -> Response:
        """Report the finding as an incident of its agency (CERT staff and the agency's
        members who may report incidents): 201 with the new incident, or 200 with the one
        it already became (never a second one)."""
        incident, created = services.report_as_incident(acting_user(request), self.get_object())
        return Response(
            {"incident": incident.pk, "reference": incident.reference, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ChecklistViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """The CERT's checklists per engagement kind (and responsibility level): read by
    everyone with the findings scope (retired ones by CERT staff only), kept by CERT staff:
    POST creates or replaces one by kind and title, PUT replaces an existing one's items
    and level, DELETE retires it (its results and findings stay)."""

    scope_resource = "findings"
    serializer_class = ChecklistSerializer

    def get_queryset(self) -> QuerySet[Checklist]:
        if getattr(self, "swagger_fake_view", False):
            return Checklist.objects.none()
        lists = Checklist.objects.prefetch_related("items")
        if not can(self.request.user, "findings.plan"):
            lists = lists.filter(active=True)
        kind = selectors._text(self.request.query_params, "kind")
        return lists.filter(kind=kind) if kind in EngagementKind.values else lists

    @extend_schema(request=ChecklistWriteSerializer, responses={201: ChecklistSerializer})
    def create(self, request: Request) -> Response:
        form = ChecklistWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        checklist = services.save_checklist(
            acting_user(request),
            kind=data["kind"],
            title=data["title"],
            level=data["level"],
            items=[(i["ref"], i["title"], i["severity"], i["guidance"]) for i in data["items"]],
        )
        return Response(
            ChecklistSerializer(self.get_queryset().get(pk=checklist.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ChecklistReplaceSerializer, responses=ChecklistSerializer)
    def update(self, request: Request, pk: str) -> Response:
        checklist = self.get_object()
        form = ChecklistReplaceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        services.save_checklist(
            acting_user(request),
            kind=checklist.kind,
            title=checklist.title,
            level=data["level"],
            items=[(i["ref"], i["title"], i["severity"], i["guidance"]) for i in data["items"]],
        )
        return Response(ChecklistSerializer(self.get_queryset().get(pk=checklist.pk)).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.retire_checklist(acting_user(request), self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
