"""Training API for platform users: lists and details through `visible_to`; imports call
the services. Learners have no API access (they are not platform users)."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation
from bulwark.training import selectors, services
from bulwark.training.models import Course, Learner, TrainingRecord


class CourseSerializer(serializers.ModelSerializer[Course]):
    owner = serializers.CharField(source="owner.name")

    class Meta:
        model = Course
        fields = ["id", "code", "title", "title_zh_hant", "summary", "summary_zh_hant", "hours",
                  "hours_kind", "status", "owner"]  # fmt: skip


class LearnerSerializer(serializers.ModelSerializer[Learner]):
    class Meta:
        model = Learner
        fields = ["id", "organisation", "staff_id", "name", "email", "role", "unit", "is_active",
                  "last_login"]  # fmt: skip


class RecordSerializer(serializers.ModelSerializer[TrainingRecord]):
    class Meta:
        model = TrainingRecord
        fields = ["id", "learner", "organisation", "completed_on", "hours", "kind", "title",
                  "provider", "source", "course", "external_id"]  # fmt: skip


def _data(request: Request) -> dict[str, Any]:
    data: Any = request.data
    if isinstance(data, list) or not hasattr(data, "items"):
        raise ValidationError({"detail": "send a JSON object"})
    return dict(data.items())


def _org(request: Request) -> Organisation:
    raw = str(_data(request).get("organisation", ""))
    if not raw.isdigit():
        raise ValidationError({"organisation": "an organisation id is required"})
    return get_object_or_404(Organisation.objects.visible_to(request.user), pk=int(raw))


def _import_answer(result: services.ImportResult) -> Response:
    return Response(
        {"created": result.created, "updated": result.updated, "skipped": result.skipped,
         "errors": [{"line": line, "reason": reason} for line, reason in result.errors]},
        status=status.HTTP_200_OK,
    )  # fmt: skip


class CourseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Course]
):
    scope_resource = "training"
    serializer_class = CourseSerializer

    def get_queryset(self) -> QuerySet[Course]:
        if getattr(self, "swagger_fake_view", False):
            return Course.objects.none()
        return selectors.courses(self.request.user, self.request.query_params)


class LearnerViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Learner]
):
    scope_resource = "training"
    serializer_class = LearnerSerializer

    def get_queryset(self) -> QuerySet[Learner]:
        if getattr(self, "swagger_fake_view", False):
            return Learner.objects.none()
        return selectors.learners(self.request.user, self.request.query_params)

    @extend_schema(request={"application/json": {"type": "object", "properties": {
        "organisation": {"type": "integer"}, "csv": {"type": "string"}}}},
        responses=OpenApiTypes.OBJECT)  # fmt: skip
    @action(detail=False, methods=["post"], url_path="import")
    def import_csv(self, request: Request) -> Response:
        """Create or update learners from CSV (staff_id, name, email, role, ...)."""
        org = _org(request)
        try:
            result = services.import_learners(acting_user(request), org,
                                              str(_data(request).get("csv", "")))  # fmt: skip
        except services.TrainingError as exc:
            raise ValidationError({"csv": str(exc)}) from exc
        return _import_answer(result)


class TrainingRecordViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[TrainingRecord]):
    scope_resource = "training"
    serializer_class = RecordSerializer

    def get_queryset(self) -> QuerySet[TrainingRecord]:
        if getattr(self, "swagger_fake_view", False):
            return TrainingRecord.objects.none()
        found = selectors.records(self.request.user)
        year = self.request.query_params.get("year", "")
        if year.isdigit():
            found = found.filter(year=int(year))
        return found

    @extend_schema(request={"application/json": {"type": "object", "properties": {
        "organisation": {"type": "integer"}, "csv": {"type": "string"}}}},
        responses=OpenApiTypes.OBJECT)  # fmt: skip
    @action(detail=False, methods=["post"], url_path="import")
    def import_csv(self, request: Request) -> Response:
        """Import outside training records from CSV (the default column mapping)."""
        org = _org(request)
        try:
            result = services.import_records(acting_user(request), org,
                                             str(_data(request).get("csv", "")))  # fmt: skip
        except services.TrainingError as exc:
            raise ValidationError({"csv": str(exc)}) from exc
        return _import_answer(result)

    @extend_schema(parameters=[OpenApiParameter("year", int)], responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def xapi(self, request: Request) -> Response:
        """The records you see as xAPI 1.0.3 statements (`{"statements": [...]}`, as a
        learning record store's statement result), at most 10,000 per page."""
        records = self.get_queryset().select_related("course")[:10_000]
        base = settings.SITE_URL + "/"
        return Response({"statements": services.xapi_statements(records, base), "more": ""})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"], url_path="xapi/import")
    def xapi_import(self, request: Request) -> Response:
        """Records from xAPI statements: {"organisation": id, "statements": [...]}."""
        org = _org(request)
        try:
            result = services.import_statements(acting_user(request), org,
                                                _data(request).get("statements"))  # fmt: skip
        except services.TrainingError as exc:
            raise ValidationError({"statements": str(exc)}) from exc
        return _import_answer(result)


class ComplianceViewSet(viewsets.ViewSet):
    scope_resource = "training"

    @extend_schema(
        parameters=[OpenApiParameter("year", int), OpenApiParameter("organisation", int)],
        responses=OpenApiTypes.OBJECT,
    )
    def list(self, request: Request) -> Response:
        """Hours compliance for a year: overall, per agency and per role; with
        `organisation`, per person too."""
        params = request.query_params
        year_raw = params.get("year", "")
        year = int(year_raw) if year_raw.isdigit() else timezone.localdate().year
        org = None
        if params.get("organisation", "").isdigit():
            org = get_object_or_404(
                Organisation.objects.visible_to(request.user), pk=int(params["organisation"])
            )
        report = selectors.compliance(request.user, year, org)

        def counts(summary: Any) -> dict[str, Any]:
            return {**{k: summary.counts.get(k, 0) for k in ("met", "behind", "missed",
                                                             "no_rule")},
                    "met_percent": summary.met_percent}  # fmt: skip

        body: dict[str, Any] = {
            "year": year,
            "overall": counts(report.overall),
            "by_organisation": [{"organisation": pk, **counts(s)}
                                for pk, s in sorted(report.by_org.items())],
            "by_role": {role: counts(s) for role, s in sorted(report.by_role.items())},
        }  # fmt: skip
        if org is not None:
            body["people"] = [
                {"learner": p.learner_id, "role": p.role, "standing": str(p.assessment.standing),
                 "missing": {k: str(v) for k, v in p.assessment.missing.items()}}
                for p in report.people
            ]  # fmt: skip
        return Response(body)
