"""Incidents API: lists and details through `visible_to`; every action calls a service."""

from typing import Any

from django.db.models import Count, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user, viewer_of
from bulwark.incidents import interchange, services
from bulwark.incidents.api import serializers as s
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident, IncidentCount
from bulwark.incidents.selectors import (
    filter_incidents,
    level_param,
    queue_order,
    summary_answers,
)
from bulwark.incidents.taxonomy import RSIT

ANSWER_FIELDS = (
    "confidentiality", "integrity", "availability", "core_system", "critical_infrastructure",
    "restored_in_time", "secret",
)  # fmt: skip


class IncidentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Incident]
):
    scope_resource = "incidents"

    def get_queryset(self) -> QuerySet[Incident]:
        if getattr(self, "swagger_fake_view", False):
            return Incident.objects.none()
        incidents = Incident.objects.visible_to(self.request.user)
        if self.action == "list":
            return queue_order(
                filter_incidents(incidents, self.request.query_params, self.request.user)
            )
        return incidents.prefetch_related(
            "timeline__author", "level_changes", "indicators", "tasks__owner", "tags"
        )

    def get_serializer_class(self) -> Any:
        return s.IncidentDetailSerializer if self.action != "list" else s.IncidentListSerializer

    def _detail(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=incident.pk)
        return Response(
            s.IncidentDetailSerializer(fresh, context={"request": self.request}).data, status=code
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, description="the same filter as the list")
            for name in ("open", "status", "level", "rsit_class", "organisation", "sector",
                         "authority", "drill", "since", "until", "q")
        ],
        responses=inline_serializer(
            "IncidentStats",
            {
                "total": serializers.IntegerField(),
                "by_level": serializers.DictField(child=serializers.IntegerField()),
                "by_class": serializers.DictField(child=serializers.IntegerField()),
            },
        ),
    )  # fmt: skip
    @action(detail=False)
    def stats(self, request: Request) -> Response:
        """Counts per level and per RSIT class of the incidents the list would show (same
        filters, same visibility), from one GROUP BY in the database, or, for a viewer who
        sees every incident and filters only by what they hold, from the trigger-kept
        totals (IncidentCount)."""
        params = request.query_params
        rows: Any
        if viewer_of(request.user).sees_everything and summary_answers(params):
            counts = IncidentCount.objects.filter(n__gt=0)
            if params.get("open") == "1":
                counts = counts.filter(is_open=True)
            if params.get("drill") in ("0", "1"):
                counts = counts.filter(is_drill=params["drill"] == "1")
            if params.get("tlp"):
                counts = counts.filter(tlp=str(params["tlp"])[:40])
            if params.get("rsit_class"):
                counts = counts.filter(rsit_class=str(params["rsit_class"])[:40])
            if (level := level_param(params)) is not None:
                counts = counts.filter(level=level)
            rows = counts.values_list("level", "rsit_class", "n")
        else:
            incidents = filter_incidents(
                Incident.objects.visible_to(request.user), params, request.user
            )
            rows = incidents.order_by().values_list("level", "rsit_class").annotate(n=Count("*"))
        by_level = {str(level): 0 for level in range(1, 5)}
        by_class = dict.fromkeys(RSIT, 0)
        total = 0
        for level, rsit_class, n in rows:
            by_level[str(level)] = by_level.get(str(level), 0) + n
            by_class[rsit_class] = by_class.get(rsit_class, 0) + n
            total += n
        return Response({"total": total, "by_level": by_level, "by_class": by_class})

    @extend_schema(request=s.ReportSerializer, responses={201: s.IncidentDetailSerializer})
    def create(self, request: Request) -> Response:
        form = s.ReportSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        answers = Answers(**{k: data.pop(k) for k in ANSWER_FIELDS})
        org = data.pop("organisation")
        data["indicators"] = [(i.get("kind", ""), i["value"]) for i in data.pop("indicators", [])]
        incident = services.report_incident(acting_user(request), org, answers=answers, **data)
        return self._detail(incident, status.HTTP_201_CREATED)

    def _act(self, request: Request, serializer: Any, call: Any) -> Response:
        incident = self.get_object()
        form = serializer(data=request.data) if serializer else None
        if form is not None:
            form.is_valid(raise_exception=True)
        result = call(acting_user(request), incident, **(form.validated_data if form else {}))
        return self._detail(result if isinstance(result, Incident) else incident)

    @extend_schema(request=s.LevelSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str) -> Response:
        return self._act(request, s.LevelSerializer, services.review_incident)

    @extend_schema(request=s.LevelSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="change-level")
    def change_level(self, request: Request, pk: str) -> Response:
        return self._act(
            request,
            s.LevelSerializer,
            lambda actor, inc, level, comment: services.change_level(
                actor, inc, level=level, reason=comment
            ),
        )

    @extend_schema(request=None, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def respond(self, request: Request, pk: str) -> Response:
        return self._act(request, None, services.start_response)

    @extend_schema(request=s.NoteSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str) -> Response:
        return self._act(request, s.NoteSerializer, services.add_note)

    @extend_schema(request=s.RecoverySerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def recovery(self, request: Request, pk: str) -> Response:
        return self._act(request, s.RecoverySerializer, services.report_recovery)

    @extend_schema(request=s.FinalReportSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="final-report")
    def final_report(self, request: Request, pk: str) -> Response:
        return self._act(request, s.FinalReportSerializer, services.submit_final_report)

    @extend_schema(request=s.DecisionSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="final-report/decision")
    def decision(self, request: Request, pk: str) -> Response:
        return self._act(request, s.DecisionSerializer, services.decide_final_report)

    @extend_schema(request=s.ExtensionSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def extension(self, request: Request, pk: str) -> Response:
        return self._act(request, s.ExtensionSerializer, services.grant_extension)

    @extend_schema(request=s.TaskSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def tasks(self, request: Request, pk: str) -> Response:
        return self._act(
            request,
            s.TaskSerializer,
            lambda actor, inc, title, owner, due_at: services.add_task(
                actor, inc, title=title, owner=owner, due_at=due_at
            ),
        )

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def stix(self, request: Request, pk: str) -> Response:
        """The incident as a STIX 2.1 bundle (incident with the Incident Core extension)."""
        return Response(interchange.incident_to_stix(self.get_object()))

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def iodef(self, request: Request, pk: str) -> HttpResponse:
        """The incident as an IODEF v2 (RFC 7970) document."""
        incident = self.get_object()
        return HttpResponse(interchange.incident_to_iodef(incident), content_type="application/xml")
