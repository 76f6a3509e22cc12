"""Drills API: campaigns and their results, improvement plans and the compliance
calendar, read through `visible_to`; every change calls a service."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user
from bulwark.drills import selectors, services
from bulwark.drills.models import Campaign, DrillObligation, ImprovementPlan


class CampaignSerializer(serializers.ModelSerializer[Campaign]):
    class Meta:
        model = Campaign
        fields = [
            "id", "name", "state", "starts_at", "spread_days", "day_start", "day_end",
            "per_domain_per_hour", "open_threshold", "click_threshold", "launched_at",
            "finished_at", "previous", "course_code",
        ]  # fmt: skip
        # The API creates no campaign (the pages do): every field is read-only.
        read_only_fields = fields


def _rates(r: selectors.Rates) -> dict[str, Any]:
    return {
        "delivered": r.sent, "opened": r.opened, "clicked": r.clicked,
        "submitted": r.submitted, "reported": r.reported,
        "reported_before_clicking": r.reported_first, "automated_events": r.automated,
        "open_rate": r.open_rate, "click_rate": r.click_rate, "submit_rate": r.submit_rate,
        "report_rate": r.report_rate,
    }  # fmt: skip


def results_document(res: selectors.Results) -> dict[str, Any]:
    return {
        "campaign": res.campaign.pk,
        "total": _rates(res.total),
        "agencies": [
            {
                "organisation": r.organisation_id,
                "name": r.name,
                "sector": r.sector,
                "authority": r.authority,
                **_rates(r),
                "passed": r.passed,
                "first_report_after_seconds": (
                    r.first_report_after.total_seconds() if r.first_report_after else None
                ),
                "previous": _rates(r.previous) if r.previous else None,
                "improvement_plan": r.plan.state if r.plan else None,
            }
            for r in res.agencies
        ],
        "by_sector": {k: _rates(v) for k, v in res.by_sector.items()},
        "by_authority": {k: _rates(v) for k, v in res.by_authority.items()},
        "repeat_clickers": [
            {"email": e, "organisation": o, "campaigns": n} for e, o, n in res.repeat_clickers
        ],
    }


class CampaignViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Campaign]
):
    scope_resource = "drills"
    serializer_class = CampaignSerializer

    def get_queryset(self) -> QuerySet[Campaign]:
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        return selectors.campaigns(self.request.user, self.request.query_params)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> Response:
        """Rates per agency, sector and authority (human events only), pass/fail, the
        previous campaign's rates, repeat clickers."""
        return Response(results_document(selectors.results(self.get_object(), request.user)))

    def _act(self, verb: str) -> Response:
        calls = {"pause": services.pause, "resume": services.resume, "stop": services.stop,
                 "finish": services.finish, "launch": services.launch}  # fmt: skip
        try:
            campaign = calls[verb](acting_user(self.request), self.get_object())
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk: str | None = None) -> Response:
        return self._act("launch")

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Stops sending before the next message."""
        return self._act("pause")

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._act("resume")

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        return self._act("stop")

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def finish(self, request: Request, pk: str | None = None) -> Response:
        return self._act("finish")


class PlanSerializer(serializers.ModelSerializer[ImprovementPlan]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = ImprovementPlan
        fields = [
            "id", "campaign", "organisation", "organisation_name", "state", "measures",
            "due_at", "filed_at", "closed_at", "closing_note",
        ]  # fmt: skip
        read_only_fields = fields


class FileSerializer(serializers.Serializer[Any]):
    measures = serializers.CharField(max_length=10000)


class ImprovementPlanViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ImprovementPlan]
):
    scope_resource = "drills"
    serializer_class = PlanSerializer

    def get_queryset(self) -> QuerySet[ImprovementPlan]:
        if getattr(self, "swagger_fake_view", False):
            return ImprovementPlan.objects.none()
        return selectors.plans(self.request.user)

    @extend_schema(request=FileSerializer, responses={200: PlanSerializer})
    @action(detail=True, methods=["post"], url_path="file")
    def file_plan(self, request: Request, pk: str | None = None) -> Response:
        plan = self.get_object()  # another agency's plan is not found, whatever the body
        body = FileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = services.file_plan(
            acting_user(request), plan, measures=body.validated_data["measures"]
        )
        return Response(PlanSerializer(plan).data)


class ObligationSerializer(serializers.ModelSerializer[DrillObligation]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = DrillObligation
        fields = [
            "id", "organisation", "organisation_name", "kind", "level", "period_start",
            "due_at", "held_at", "results_at", "state",
        ]  # fmt: skip

    def get_state(self, obj: DrillObligation) -> str:
        return str(getattr(obj, "state", ""))


class ObligationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[DrillObligation]):
    """The compliance calendar: each statutory drill with its state (due, done, late,
    missing)."""

    scope_resource = "drills"
    serializer_class = ObligationSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[DrillObligation]:
        return DrillObligation.objects.none()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = []
        for row in selectors.compliance(request.user):
            row.obligation.state = row.state  # type: ignore[attr-defined]
            rows.append(row.obligation)
        return Response(ObligationSerializer(rows, many=True).data)
