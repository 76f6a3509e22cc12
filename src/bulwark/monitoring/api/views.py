"""Monitoring API: sightings and alerts through `visible_to`; triage calls a service."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user
from bulwark.monitoring import selectors, services
from bulwark.monitoring.models import Alert, LogSighting


class SightingSerializer(serializers.ModelSerializer[LogSighting]):
    organisation: Any = serializers.StringRelatedField()

    class Meta:
        model = LogSighting
        fields = [
            "id", "organisation", "indicator_type", "indicator", "indicator_ref", "score",
            "hour", "count", "first_seen", "last_seen", "last_field",
        ]  # fmt: skip


class AlertSerializer(serializers.ModelSerializer[Alert]):
    organisation: Any = serializers.StringRelatedField()
    # Plain text, not an enum: "status" is a choice set in other apps too, and the schema
    # must not need a global enum name override for it.
    status: Any = serializers.CharField(
        read_only=True, help_text="new, promoted, false_positive, dismissed"
    )
    incident: Any = serializers.SlugRelatedField(
        slug_field="reference", read_only=True, allow_null=True
    )

    class Meta:
        model = Alert
        fields = [
            "id", "organisation", "indicator_type", "indicator", "indicator_ref", "score",
            "status", "count", "first_seen", "last_seen", "created_at", "triaged_at", "note",
            "incident", "detector", "evidence",
        ]  # fmt: skip


class SightingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[LogSighting]
):
    scope_resource = "monitoring"
    serializer_class = SightingSerializer

    def get_queryset(self) -> QuerySet[LogSighting]:
        if getattr(self, "swagger_fake_view", False):
            return LogSighting.objects.none()
        rows = selectors.sightings(self.request.user)
        value = self.request.query_params.get("indicator")
        return rows.filter(indicator=value[:2048]) if value else rows


TRIAGE = inline_serializer(
    "AlertTriage",
    {
        "action": serializers.CharField(help_text="promote or false_positive"),
        "note": serializers.CharField(required=False),
    },
)


class AlertViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Alert]
):
    scope_resource = "monitoring"
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        rows = selectors.alerts(self.request.user)
        wanted = self.request.query_params.get("status")
        return rows.filter(status=wanted[:20]) if wanted else rows

    @extend_schema(request=TRIAGE, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, pk: Any = None) -> Response:
        alert = self.get_object()
        data = request.data if isinstance(request.data, dict) else {}
        choice = data.get("action")
        note = str(data.get("note", ""))[:4000]
        actor = acting_user(request)
        try:
            if choice == "promote":
                services.promote_alert(actor, alert, note=note)
            elif choice == "false_positive":
                services.mark_false_positive(actor, alert, reason=note)
            else:
                return Response(
                    {"action": ["promote or false_positive"]}, status=status.HTTP_400_BAD_REQUEST
                )
        except ValidationError as exc:
            return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
        return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)
