"""Advisories API: reads through `visible_to`, every write through a service."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.advisories import csaf, selectors, services
from bulwark.advisories.api import serializers as s
from bulwark.advisories.models import (
    MAX_ATTACHMENT_BYTES,
    Advisory,
    Attachment,
    InventoryItem,
    Target,
)
from bulwark.constituency.access import acting_user, viewer_of
from bulwark.core.api.parsers import MultiPartParser
from bulwark.core.permissions import can


class AdvisoryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Advisory]
):
    """Advisories you may read: all of them for CERT staff, those sent to your
    organisations (and the public ones) for everyone else."""

    scope_resource = "advisories"

    def get_queryset(self) -> QuerySet[Advisory]:
        if getattr(self, "swagger_fake_view", False):
            return Advisory.objects.none()
        advisories = Advisory.objects.visible_to(self.request.user).select_related("category")
        return selectors.filter_advisories(advisories, self.request.query_params)

    def get_serializer_class(self) -> Any:
        return s.AdvisoryListSerializer if self.action == "list" else s.AdvisoryDetailSerializer

    def _detail(self, advisory: Advisory, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=advisory.pk)
        return Response(s.AdvisoryDetailSerializer(fresh).data, status=code)

    @staticmethod
    def _fields(data: dict[str, Any]) -> dict[str, Any]:
        fields = dict(data)
        fields.pop("note", None)
        for key in ("cves", "affected_products"):
            if key in fields:
                fields[key] = [dict(item) for item in fields[key]]
        return fields

    @extend_schema(request=s.AdvisoryWriteSerializer, responses={201: s.AdvisoryDetailSerializer})
    def create(self, request: Request) -> Response:
        form = s.AdvisoryWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        advisory = services.create_advisory(
            acting_user(request), **self._fields(form.validated_data)
        )
        return self._detail(advisory, status.HTTP_201_CREATED)

    @extend_schema(request=s.AdvisoryWriteSerializer, responses=s.AdvisoryDetailSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        advisory = self.get_object()
        form = s.AdvisoryWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        note = str(form.validated_data.get("note", ""))
        services.update_advisory(
            acting_user(request), advisory, note=note, **self._fields(form.validated_data)
        )
        return self._detail(advisory)

    def _step(self, request: Request, call: Any) -> Response:
        advisory = self.get_object()
        call(acting_user(request), advisory)
        return self._detail(advisory)

    @extend_schema(request=None, responses=s.AdvisoryDetailSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        return self._step(request, services.submit)

    @extend_schema(request=None, responses=s.AdvisoryDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        return self._step(request, services.approve)

    @extend_schema(request=s.ReasonSerializer, responses=s.AdvisoryDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        form = s.ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._step(
            request, lambda u, a: services.reject(u, a, reason=form.validated_data["reason"])
        )

    @extend_schema(request=None, responses=s.AdvisoryDetailSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        return self._step(request, services.send)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def remind(self, request: Request, pk: str) -> Response:
        count = services.remind(acting_user(request), self.get_object())
        return Response({"reminded": count})

    def _cert_only(self) -> None:
        if not can(self.request.user, "advisory.write"):
            raise PermissionDenied

    @extend_schema(responses=s.RecipientSerializer(many=True))
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str) -> Response:
        """Exactly who would receive the advisory if it were sent now."""
        self._cert_only()
        rows = services.preview(self.get_object())
        return Response(
            [{"id": o.pk, "name": o.name, "kind": o.kind, "reason": r} for o, r in rows]
        )

    @extend_schema(responses=s.RevisionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def revisions(self, request: Request, pk: str) -> Response:
        """Every revision, including those awaiting approval (CERT staff)."""
        self._cert_only()
        revisions = self.get_object().revisions.select_related("author", "approved_by")
        return Response(s.RevisionSerializer(revisions, many=True).data)

    def _decide_revision(self, request: Request, revision_id: str, call: Any) -> Response:
        advisory = self.get_object()
        revision = advisory.revisions.filter(pk=int(revision_id)).first()
        if revision is None:
            raise NotFound
        call(acting_user(request), revision)
        return self._detail(advisory)

    @extend_schema(request=None, responses=s.AdvisoryDetailSerializer)
    @action(detail=True, methods=["post"], url_path=r"revisions/(?P<revision_id>\d+)/approve")
    def approve_revision(self, request: Request, pk: str, revision_id: str) -> Response:
        """A second CERT member approves a proposed revision; recipients are told."""
        return self._decide_revision(request, revision_id, services.approve_revision)

    @extend_schema(request=None, responses=s.AdvisoryDetailSerializer)
    @action(detail=True, methods=["post"], url_path=r"revisions/(?P<revision_id>\d+)/discard")
    def discard_revision(self, request: Request, pk: str, revision_id: str) -> Response:
        return self._decide_revision(request, revision_id, services.reject_revision)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def tracking(self, request: Request, pk: str) -> Response:
        """Counts per state, e-mail delivery counts, and the targets (filter with ?state=)."""
        self._cert_only()
        advisory = self.get_object()
        now = timezone.now()
        state = str(request.query_params.get("state", ""))
        targets = selectors.targets_in_state(advisory, state, now).select_related(
            "organisation", "advisory"
        )
        # The advisory viewset's pages, here over the advisory's targets.
        paginator = self.paginator
        ordered = targets.order_by("organisation__name")
        page = paginator.paginate_queryset(ordered, request, view=self) if paginator else None
        return self.get_paginated_response(
            {
                "counts": selectors.tracking_counts(advisory, now),
                "deliveries": selectors.delivery_counts(advisory),
                "targets": s.TargetSerializer(page, many=True).data,
            }
        )

    @extend_schema(request=s.ResponseSerializer, responses=s.TargetSerializer)
    @action(detail=True, methods=["post"])
    def respond(self, request: Request, pk: str) -> Response:
        """Acknowledge receipt (no `action`) or report the action taken, for your
        organisation; what an agency's own tools post with a bearer token."""
        advisory = self.get_object()
        form = s.ResponseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = acting_user(request)
        mine = Target.objects.visible_to(user).filter(
            advisory=advisory, organisation_id__in=viewer_of(user).own_org_ids
        )
        if "organisation" in form.validated_data:
            mine = mine.filter(organisation_id=form.validated_data["organisation"])
        targets = list(mine[:2])
        if not targets:
            raise PermissionDenied("This advisory was not sent to your organisation.")
        if len(targets) > 1:
            raise ValidationError({"organisation": "Say which of your organisations answers."})
        target = targets[0]
        if "action" in form.validated_data:
            target = services.report_action(
                user,
                target,
                action=form.validated_data["action"],
                note=form.validated_data.get("note", ""),
            )
        else:
            target = services.acknowledge(user, target)
        return Response(s.TargetSerializer(target).data)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses=s.AdvisoryDetailSerializer,
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attachments(self, request: Request, pk: str) -> Response:
        """Attach a file (at most 1 MiB, 5 per advisory) before the advisory is sent."""
        advisory = self.get_object()
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": "Send the file in the multipart field 'file'."})
        if upload.size is not None and upload.size > MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                {"file": f"The file is {upload.size} bytes; the limit is {MAX_ATTACHMENT_BYTES}."}
            )
        services.add_attachment(
            acting_user(request),
            advisory,
            name=upload.name or "file",
            content_type=upload.content_type or "",
            data=upload.read(),
        )
        return self._detail(advisory, status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>\d+)")
    def attachment(self, request: Request, pk: str, attachment_id: str) -> HttpResponse:
        advisory = self.get_object()
        found = Attachment.objects.filter(advisory=advisory, pk=int(attachment_id)).first()
        if found is None:
            raise NotFound
        response = HttpResponse(bytes(found.data), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{found.name}"'
        return response

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def csaf(self, request: Request, pk: str) -> Response:
        """The advisory as a CSAF 2.0 document (public TLP:CLEAR publications only)."""
        advisory = self.get_object()
        if not advisory.is_public:
            raise ValidationError("Only public TLP:CLEAR publications are exported as CSAF.")
        return Response(csaf.document(advisory))


class TargetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Target]
):
    """Your organisation's advisory inbox: one row per advisory sent to it."""

    scope_resource = "advisories"
    serializer_class = s.TargetSerializer

    def get_queryset(self) -> QuerySet[Target]:
        if getattr(self, "swagger_fake_view", False):
            return Target.objects.none()
        return (
            Target.objects.visible_to(self.request.user)
            .select_related("advisory", "organisation")
            .order_by("-advisory__sent_at", "pk")
        )


class InventoryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[InventoryItem],
):
    """The products organisations run (CPE 2.3 or vendor/product/version)."""

    scope_resource = "advisories"
    serializer_class = s.InventorySerializer

    def get_queryset(self) -> QuerySet[InventoryItem]:
        if getattr(self, "swagger_fake_view", False):
            return InventoryItem.objects.none()
        return InventoryItem.objects.visible_to(self.request.user).order_by("pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = s.InventorySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        org = data.pop("organisation")
        item = services.add_inventory_item(acting_user(request), org, **data)
        return Response(s.InventorySerializer(item).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: InventoryItem) -> None:
        services.remove_inventory_item(acting_user(self.request), instance)
