"""Exchange API: upload a report, list/search events, notifications. Every read starts
from `visible_to`; uploads call `services.ingest`. Token scopes: `exchange:read` for reads,
`exchange:write` for uploads (docs/exchange.md)."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user
from bulwark.core.api.parsers import FormParser, MultiPartParser
from bulwark.core.permissions import can
from bulwark.exchange import services
from bulwark.exchange.engine.formats import FORMATS
from bulwark.exchange.models import ColumnMapping, Event, EventNotice, NotificationReply, Report
from bulwark.exchange.presets import PRESETS
from bulwark.exchange.selectors import BadFilter, filter_events

MAX_UPLOAD_BYTES = 200 << 20


class ExchangeEventSerializer(serializers.ModelSerializer[Event]):
    recipient_name = serializers.CharField(source="recipient.name", default=None)
    event = serializers.SerializerMethodField(help_text="The event in IntelMQ field names.")

    class Meta:
        model = Event
        fields = [
            "id", "event_id", "report", "record_no", "taxonomy", "classification_type",
            "identifier", "source_ip", "source_port", "source_asn", "source_fqdn", "country",
            "destination_ip", "feed_name", "feed_provider", "time_source", "time_observation",
            "recipient", "recipient_name", "route_via", "route_match", "notification",
            "event",
        ]  # fmt: skip

    def get_event(self, event: Event) -> dict[str, Any]:
        return event.fields


class ExchangeReplySerializer(serializers.ModelSerializer[NotificationReply]):
    class Meta:
        model = NotificationReply
        fields = ["sender", "subject", "body", "is_bounce", "received_at"]


# Choice fields are plain text here: their enum names would collide in the OpenAPI schema
# with the incidents' `status` and others.
class ExchangeNotificationSerializer(serializers.ModelSerializer[EventNotice]):
    recipient_name = serializers.CharField(source="recipient.name")
    status = serializers.CharField(read_only=True)
    cadence = serializers.CharField(read_only=True)
    channel = serializers.CharField(read_only=True)
    replies = ExchangeReplySerializer(many=True, read_only=True)

    class Meta:
        model = EventNotice
        fields = [
            "id", "ticket", "recipient", "recipient_name", "classification_type", "cadence",
            "language", "address", "event_count", "status", "attempts", "last_error",
            "created_at", "sent_at", "channel", "taxii_status_id", "replies",
        ]  # fmt: skip


class ExchangeReportSerializer(serializers.ModelSerializer[Report]):
    status = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)  # type: ignore[assignment]

    class Meta:
        model = Report
        fields = [
            "id", "sha256", "file_name", "format", "feed_name", "provider", "report_type",
            "foreign_ticket", "source", "size", "received_at", "finished_at", "status",
            "error", "counts",
        ]  # fmt: skip


class ExchangeUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    format = serializers.CharField(
        required=False, default="", max_length=20, help_text=f"one of {', '.join(FORMATS)}"
    )

    def validate_format(self, value: str) -> str:
        if value and value not in FORMATS:
            raise serializers.ValidationError(f"use one of {', '.join(FORMATS)}")
        return value

    feed = serializers.CharField(required=False, default="", max_length=100)
    mapping = serializers.CharField(required=False, default="", max_length=100)


EVENT_FILTERS = ["ip", "cidr", "asn", "domain", "type", "taxonomy", "feed", "recipient",
                 "country", "report", "since", "until"]  # fmt: skip


class EventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Event]
):
    scope_resource = "exchange"
    serializer_class = ExchangeEventSerializer

    def get_queryset(self) -> QuerySet[Event]:
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        events: QuerySet[Event] = Event.objects.visible_to(self.request.user).select_related(
            "recipient"
        )
        if self.action == "list":
            try:
                events = filter_events(events, self.request.query_params)
            except BadFilter as exc:
                raise ApiValidationError({"detail": str(exc)}) from None
        return events.order_by("-id")

    @extend_schema(parameters=[OpenApiParameter(n, str) for n in EVENT_FILTERS])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[EventNotice]
):
    scope_resource = "exchange"
    serializer_class = ExchangeNotificationSerializer

    def get_queryset(self) -> QuerySet[EventNotice]:
        if getattr(self, "swagger_fake_view", False):
            return EventNotice.objects.none()
        return (
            EventNotice.objects.visible_to(self.request.user)
            .select_related("recipient")
            .prefetch_related("replies")
        )


class ReportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Report],
):
    """Received reports (CERT staff). POST a multipart `file` to ingest one."""

    scope_resource = "exchange"
    serializer_class = ExchangeReportSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Report]:
        if getattr(self, "swagger_fake_view", False):
            return Report.objects.none()
        return Report.objects.visible_to(self.request.user)

    @extend_schema(request=ExchangeUploadSerializer, responses=ExchangeReportSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = ExchangeUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        if data["file"].size > MAX_UPLOAD_BYTES:
            raise ApiValidationError({"file": f"over the {MAX_UPLOAD_BYTES:,}-byte limit"})
        try:
            result = services.ingest(
                acting_user(request),
                data["file"],
                file_name=data["file"].name,
                fmt=data["format"],
                feed=data["feed"],
                source=Report.Source.API,
                mapping=data["mapping"],
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except ValidationError as exc:
            raise ApiValidationError({"detail": exc.messages}) from None
        code = status.HTTP_200_OK if result.already else status.HTTP_201_CREATED
        return Response(ExchangeReportSerializer(result.report).data, status=code)


class ColumnMappingSerializer(serializers.ModelSerializer[ColumnMapping]):
    class Meta:
        model = ColumnMapping
        fields = ["id", "name", "columns", "constants", "delimiter", "options"]


class ColumnMappingWriteSerializer(serializers.Serializer[Any]):
    name = serializers.SlugField(max_length=100)
    columns = serializers.JSONField(help_text='{"source.ip": "ip", ...} (column name or number)')
    constants = serializers.JSONField(required=False, default=dict)
    delimiter = serializers.CharField(
        required=False, default=",", max_length=1, trim_whitespace=False
    )
    options = serializers.JSONField(
        required=False, default=dict, help_text='{"header": false, "comment": "#", "strip": true}'
    )


class ColumnMappingPreviewSerializer(serializers.Serializer[Any]):
    mapping = serializers.JSONField(help_text="columns, constants, delimiter and options")
    format = serializers.ChoiceField(choices=["csv", "json"], default="csv")
    sample = serializers.CharField(max_length=1 << 20, trim_whitespace=False)


def _mapping_data(data: dict[str, Any]) -> dict[str, Any]:
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ApiValidationError({"options": "a JSON object"})
    given = {k: data[k] for k in services.MAPPING_OPTIONS if k in data}  # a preset's form
    return {
        **given,
        **options,
        "columns": data.get("columns"),
        "constants": data.get("constants") or {},
        "delimiter": data.get("delimiter") or ",",
    }


def _api_error(exc: ValidationError) -> ApiValidationError:
    return ApiValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    )


class ColumnMappingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[ColumnMapping],
):
    """Saved column mappings for generic CSV/JSON feeds (CERT staff). POST saves one (a
    mapping of the same name is replaced); `presets/` lists the shipped presets;
    `preview/` shows what a mapping makes of a sample, storing nothing."""

    scope_resource = "exchange"
    serializer_class = ColumnMappingSerializer
    lookup_field = "name"

    def get_queryset(self) -> QuerySet[ColumnMapping]:
        if getattr(self, "swagger_fake_view", False):
            return ColumnMapping.objects.none()
        return ColumnMapping.objects.visible_to(self.request.user).order_by("name")

    @extend_schema(request=ColumnMappingWriteSerializer, responses=ColumnMappingSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = ColumnMappingWriteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            mapping = services.save_mapping(acting_user(request), data["name"], _mapping_data(data))
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except ValidationError as exc:
            raise _api_error(exc) from None
        return Response(ColumnMappingSerializer(mapping).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"])
    def presets(self, request: Request) -> Response:
        if not can(request.user, "exchange.manage"):
            raise PermissionDenied("Only CERT staff handle column mappings.")
        return Response(PRESETS)

    @extend_schema(request=ColumnMappingPreviewSerializer, responses={200: dict})
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        given = ColumnMappingPreviewSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if not isinstance(data["mapping"], dict):
            raise ApiValidationError({"mapping": "a JSON object"})
        try:
            result = services.preview_mapping(
                acting_user(request),
                _mapping_data(data["mapping"]),
                data["sample"].encode(),
                data["format"],
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except ValidationError as exc:
            raise _api_error(exc) from None
        return Response(result)
