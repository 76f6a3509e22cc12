"""Intel REST API (/api/v1/intel/...): a value and its correlations, indicators with their
decay score, sightings, and submissions into the review flow. Every read starts from
`visible_to`; every write calls a service. Token scope: `intel:read` / `intel:write`."""

import uuid
from datetime import timedelta
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user, viewer_of
from bulwark.constituency.models import Organisation
from bulwark.core import observables as obs
from bulwark.core.api.parsers import FormParser, JSONParser, MultiPartParser
from bulwark.core.params import whole_number
from bulwark.core.permissions import Reader, can, require
from bulwark.core.tlp import TLP, parse_tlp
from bulwark.intel import decay, selectors, services, sharing
from bulwark.intel.models import (
    Collection,
    Indicator,
    Provenance,
    Sighting,
    Status,
    Submission,
    Value,
)

MAX_SIGHTING_COUNT = 1_000_000
SCAN_CHUNK = 2000
FORMULA = "base x max(0, 1 - (age / lifetime) ^ (1 / speed)) x 0.5 ^ false_positives"


def _normalised(kind: str | None, text: str, field: str = "value") -> tuple[str, str]:
    """(kind, canonical text), or 400 naming the field."""
    try:
        return obs.normalise(kind or obs.detect(text), text)
    except ValueError as exc:
        raise ApiValidationError({field: [str(exc)]}) from None


def _row_id(text: Any) -> int | None:
    """A database id given as text, or None (also for numbers no column can hold)."""
    return whole_number(text or "")


def _flag(params: Any, name: str) -> bool:
    return str(params.get(name, "")).lower() in ("1", "true", "yes")


def _score(score: decay.Score) -> dict[str, Any]:
    return {
        "value": score.value,
        "decayed": score.decayed,
        "expired": score.expired,
        "base": score.base,
        "age_days": round(score.age_days, 3),
        "lifetime_days": score.lifetime_days,
        "false_positives": score.false_positives,
        "speed": decay.SPEED,
        "threshold": decay.THRESHOLD,
        "formula": FORMULA,
    }


# --- Serializers (named Intel* so that no schema component collides with another app) --


class IntelScoreSerializer(serializers.Serializer[Any]):
    value = serializers.FloatField()
    decayed = serializers.BooleanField()
    expired = serializers.BooleanField()
    base = serializers.IntegerField(help_text="confidence, 50 when the source gave none")
    age_days = serializers.FloatField(
        help_text="days since the later of valid_from and the value's last sighting"
    )
    lifetime_days = serializers.IntegerField(help_text="per value type (docs/intel.md)")
    false_positives = serializers.IntegerField(help_text="each one halves the score")
    speed = serializers.FloatField()
    threshold = serializers.FloatField(help_text="below it the indicator is decayed")
    formula = serializers.CharField()


class IntelValueRefSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    value = serializers.CharField()


class IntelIndicatorSerializer(serializers.ModelSerializer[Indicator]):
    stix_id = serializers.CharField(source="stix_object.stix_id")
    tlp = serializers.SerializerMethodField()
    status = serializers.CharField(source="stix_object.status", help_text="pending, published")
    source_organisation = serializers.CharField(
        source="stix_object.source_org.name", default=None, allow_null=True
    )
    collection = serializers.UUIDField(source="stix_object.collection.uuid")
    date_added = serializers.DateTimeField(source="stix_object.date_added")
    values = serializers.SerializerMethodField()
    score = serializers.SerializerMethodField()

    class Meta:
        model = Indicator
        fields = [
            "id", "stix_id", "name", "pattern", "pattern_type", "valid_from", "valid_until",
            "confidence", "kind", "tlp", "status", "source_organisation", "collection",
            "date_added", "values", "score",
        ]  # fmt: skip

    def get_tlp(self, indicator: Indicator) -> str:
        return TLP(indicator.stix_object.tlp).label

    @extend_schema_field(IntelValueRefSerializer(many=True))
    def get_values(self, indicator: Indicator) -> list[dict[str, str]]:
        values: dict[int, list[dict[str, str]]] = self.context["values"]
        return values.get(indicator.stix_object_id, [])

    @extend_schema_field(IntelScoreSerializer)
    def get_score(self, indicator: Indicator) -> dict[str, Any]:
        return _score(self.context["scores"][indicator.pk])


class IntelSightingSerializer(serializers.ModelSerializer[Sighting]):
    kind = serializers.CharField(source="value.kind", read_only=True)
    value = serializers.CharField(source="value.value", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = Sighting
        fields = [
            "id", "kind", "value", "organisation", "organisation_name", "count", "first_seen",
            "last_seen", "source", "false_positive", "recorded_at",
        ]  # fmt: skip
        read_only_fields = fields


class IntelSightingInputSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(max_length=obs.MAX_LENGTH, trim_whitespace=True)
    kind = serializers.ChoiceField(
        choices=list(obs.KINDS), required=False, help_text="detected when left out"
    )
    count = serializers.IntegerField(min_value=1, max_value=MAX_SIGHTING_COUNT, default=1)
    first_seen = serializers.DateTimeField(required=False, help_text="default: now")
    last_seen = serializers.DateTimeField(required=False, help_text="default: first_seen")
    source: Any = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True, help_text="where seen"
    )
    false_positive = serializers.BooleanField(default=False)
    organisation = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="default: your organisation; CERT staff may name any organisation",
    )


class IntelSubmissionSerializer(serializers.ModelSerializer[Submission]):
    collection = serializers.UUIDField(source="collection.uuid")
    format: Any = serializers.CharField()
    awaiting_review = serializers.IntegerField(
        read_only=True, help_text="stored objects waiting for a CERT analyst"
    )
    url = serializers.SerializerMethodField(help_text="the submission's page")

    class Meta:
        model = Submission
        fields = [
            "id", "collection", "format", "channel", "received_at", "processed_at", "stored",
            "refused", "awaiting_review", "report", "url",
        ]  # fmt: skip

    def get_url(self, submission: Submission) -> str:
        return reverse("intel-submission", args=[submission.pk])


class IntelSubmissionInputSerializer(serializers.Serializer[Any]):
    """For the schema: JSON (`content` a string, or the bundle or event itself) or a
    multipart form with `file`."""

    collection = serializers.CharField(help_text="collection UUID (as in TAXII) or id")
    format = serializers.ChoiceField(choices=list(sharing.FORMATS))
    tlp = serializers.CharField(required=False, help_text="e.g. TLP:AMBER; default: as marked")
    content = serializers.JSONField(required=False)
    file = serializers.FileField(required=False)


class IntelSubmissionFieldsSerializer(serializers.Serializer[Any]):
    collection = serializers.CharField(max_length=100)
    format = serializers.ChoiceField(choices=list(sharing.FORMATS))
    tlp = serializers.CharField(max_length=60, required=False, allow_blank=True)


# --- Values -------------------------------------------------------------------------------


class IntelProvenanceSerializer(serializers.Serializer[Any]):
    stix_id = serializers.CharField()
    type = serializers.CharField(help_text="indicator, observed-data, report, ...")
    organisation = serializers.CharField(allow_null=True)
    confidence = serializers.IntegerField(allow_null=True)
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    tlp = serializers.CharField()
    collection = serializers.UUIDField()
    date_added = serializers.DateTimeField()
    indicator = serializers.IntegerField(allow_null=True, help_text="id in intel/indicators/")


class IntelValueIndicatorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    stix_id = serializers.CharField()
    name = serializers.CharField()
    pattern = serializers.CharField()
    status = serializers.CharField()
    score = IntelScoreSerializer()


class IntelIncidentRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()


class IntelRelatedValueSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    value = serializers.CharField()
    sources = serializers.IntegerField(help_text="shared objects you may read carrying it")


class IntelCorrelationsSerializer(serializers.Serializer[Any]):
    shared_objects = serializers.IntegerField()
    incidents = IntelIncidentRefSerializer(many=True)
    inside_prefixes = IntelRelatedValueSerializer(many=True)
    contains = IntelRelatedValueSerializer(many=True)


class IntelValueSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    value = serializers.CharField(help_text="normalised")
    sighting_count = serializers.IntegerField()
    false_positive_count = serializers.IntegerField()
    last_sighted_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="the value's page")
    provenance = IntelProvenanceSerializer(many=True)
    indicators = IntelValueIndicatorSerializer(many=True)
    sightings = IntelSightingSerializer(many=True)
    correlations = IntelCorrelationsSerializer()


class _OneValueSchema(AutoSchema):
    """GET values/?value= answers one value, not a list."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


class IntelValueViewSet(viewsets.ViewSet):
    """One observable value: its provenance, indicators, sightings and correlations."""

    scope_resource = "intel"
    schema = _OneValueSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter("value", str, required=True, description="any observable value"),
            OpenApiParameter("kind", str, description="value type; detected when left out"),
        ],
        responses={200: IntelValueSerializer},
    )
    def list(self, request: Request) -> Response:
        text = str(request.query_params.get("value", ""))
        kind_param = str(request.query_params.get("kind", "")).strip().lower()
        if not text.strip():
            raise ApiValidationError({"value": [_("Give a value to look up.")]})
        if kind_param and kind_param not in obs.KINDS:
            raise ApiValidationError({"kind": [f"use one of {', '.join(obs.KINDS)}"]})
        kind, canonical = _normalised(kind_param or None, text)
        user = request.user
        found = Value.objects.filter(kind=kind, value=canonical).first()
        if found is None:
            found = Value(kind=kind, value=canonical)  # only incidents may carry it
            if not selectors.correlate(user, found, limit=1).incidents:
                raise NotFound
        elif not selectors.may_see_value(user, found):
            raise NotFound
        return Response(_value_body(user, found))


def _value_body(user: Reader, value: Value) -> dict[str, Any]:
    c = selectors.correlate(user, value)
    object_ids = [p.stix_object_id for p in c.sources if p.stix_object.type == "indicator"]
    indicators = list(
        Indicator.objects.filter(stix_object_id__in=object_ids).select_related("stix_object")
    )
    scores = selectors.indicator_scores(indicators)
    indicator_of = {i.stix_object_id: i for i in indicators}
    return {
        "kind": value.kind,
        "value": value.value,
        "sighting_count": value.sighting_count,
        "false_positive_count": value.false_positive_count,
        "last_sighted_at": value.last_sighted_at,
        "url": reverse("intel-value", args=[value.kind, value.value]),
        "provenance": [
            {
                "stix_id": p.stix_object.stix_id,
                "type": p.stix_object.type,
                "organisation": p.organisation.name if p.organisation else None,
                "confidence": p.confidence,
                "first_seen": p.first_seen,
                "last_seen": p.last_seen,
                "valid_until": p.valid_until,
                "tlp": TLP(p.tlp).label,
                "collection": str(p.stix_object.collection.uuid),
                "date_added": p.stix_object.date_added,
                "indicator": indicator_of[p.stix_object_id].pk
                if p.stix_object_id in indicator_of
                else None,
            }
            for p in c.sources
        ],
        "indicators": [
            {
                "id": i.pk,
                "stix_id": i.stix_object.stix_id,
                "name": i.name,
                "pattern": i.pattern,
                "status": i.stix_object.status,
                "score": _score(scores[i.pk]),
            }
            for i in indicators
        ],
        "sightings": IntelSightingSerializer(c.sightings, many=True).data,
        "correlations": {
            "shared_objects": len(c.sources),
            "incidents": [
                {
                    "id": row.incident.pk,
                    "reference": row.incident.reference,
                    "title": row.incident.title,
                    "url": reverse("incident-detail", args=[row.incident.pk]),
                }
                for row in c.incidents
            ],
            "inside_prefixes": [
                {"kind": v.kind, "value": v.value, "sources": n} for v, n in c.broader
            ],
            "contains": [{"kind": v.kind, "value": v.value, "sources": n} for v, n in c.narrower],
        },
    }


# --- Indicators ---------------------------------------------------------------------------

INDICATOR_FILTERS = [
    OpenApiParameter("type", str, description="value type (ipv4, domain, sha256, ...)"),
    OpenApiParameter("value", str, description="indicators carrying this value"),
    OpenApiParameter("min_score", float, description="only indicators scoring at least this"),
    OpenApiParameter("include_decayed", bool, description="1 keeps decayed indicators"),
]


def _may_pass(rows: QuerySet[Indicator], need: float, now: Any) -> QuerySet[Indicator]:
    """Leave out, in SQL, the indicators that cannot score `need` (the score is at most
    the confidence, and at most confidence x (1 - (age / lifetime)^2)), so that Python
    scores only the rest and a large store is not read whole."""
    if need <= 0:
        return rows
    slack = need - 0.05  # scores are rounded to one decimal
    rows = rows.exclude(valid_until__lte=now)
    base = Q(confidence__gte=slack)
    if slack <= decay.DEFAULT_CONFIDENCE:
        base |= Q(confidence__isnull=True)
    factor = max(0.0, 1 - slack / 100) ** decay.SPEED
    lifetimes = {**decay.LIFETIME_DAYS}
    young = Q()
    for kind, days in lifetimes.items():
        young |= Q(kind=kind, valid_from__gte=now - timedelta(days=days * factor))
    young |= ~Q(kind__in=list(lifetimes)) & Q(
        valid_from__gte=now - timedelta(days=decay.DEFAULT_LIFETIME_DAYS * factor)
    )
    longest = max([*lifetimes.values(), decay.DEFAULT_LIFETIME_DAYS]) * factor
    sighted = Provenance.objects.filter(
        value__last_sighted_at__gte=now - timedelta(days=longest)
    ).values("stix_object_id")
    return rows.filter(base & (young | Q(stix_object_id__in=sighted)))


class IntelIndicatorViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Indicator]
):
    """Current indicators you may read, with their decay score. Decayed ones (score below
    20, or past valid_until) are left out unless `include_decayed=1`."""

    scope_resource = "intel"
    serializer_class = IntelIndicatorSerializer

    def get_queryset(self) -> QuerySet[Indicator]:
        if getattr(self, "swagger_fake_view", False):
            return Indicator.objects.none()
        rows = (
            Indicator.objects.visible_to(self.request.user)
            .filter(stix_object__is_latest=True)
            .select_related("stix_object", "stix_object__source_org", "stix_object__collection")
            .order_by("-stix_object__date_added", "-pk")
        )
        if self.action != "list":
            return rows
        params = self.request.query_params
        kind = str(params.get("type", "")).strip().lower()
        if kind:
            if kind not in obs.KINDS:
                raise ApiValidationError({"type": [f"use one of {', '.join(obs.KINDS)}"]})
            rows = rows.filter(kind=kind)
        if params.get("value"):
            found_kind, text = _normalised(kind or None, str(params["value"]))
            carrying = Provenance.objects.filter(value__kind=found_kind, value__value=text)
            rows = rows.filter(stix_object_id__in=carrying.values("stix_object_id"))
        return rows

    def _min_score(self) -> float | None:
        raw = self.request.query_params.get("min_score")
        if raw in (None, ""):
            return None
        try:
            wanted = float(str(raw))
        except ValueError:
            raise ApiValidationError({"min_score": ["a number from 0 to 100"]}) from None
        if not 0 <= wanted <= 100:
            raise ApiValidationError({"min_score": ["a number from 0 to 100"]})
        return wanted

    def _context(self, indicators: list[Indicator]) -> dict[str, Any]:
        values: dict[int, list[dict[str, str]]] = {}
        for object_id, kind, text in (
            Provenance.objects.filter(stix_object_id__in=[i.stix_object_id for i in indicators])
            .order_by("stix_object_id", "value__kind", "value__value")
            .values_list("stix_object_id", "value__kind", "value__value")
        ):
            values.setdefault(object_id, []).append({"kind": kind, "value": text})
        return {
            **self.get_serializer_context(),
            "values": values,
            "scores": selectors.indicator_scores(indicators),
        }

    def _passing(self, rows: QuerySet[Indicator], floor: float | None, decayed: bool) -> list[int]:
        """Ids, in order, of the indicators whose score passes (scored a chunk at a time)."""
        now = timezone.now()
        rows = _may_pass(rows, max(floor or 0.0, 0.0 if decayed else decay.THRESHOLD), now)
        kept: list[int] = []
        chunk: list[Indicator] = []

        def score_chunk() -> None:
            scores = selectors.indicator_scores(chunk, now)
            for indicator in chunk:
                s = scores[indicator.pk]
                if (decayed or not s.decayed) and (floor is None or s.value >= floor):
                    kept.append(indicator.pk)
            chunk.clear()

        light = rows.select_related(None).only(
            "pk", "stix_object_id", "kind", "confidence", "valid_from", "valid_until"
        )
        for indicator in light.iterator(chunk_size=SCAN_CHUNK):
            chunk.append(indicator)
            if len(chunk) >= SCAN_CHUNK:
                score_chunk()
        score_chunk()
        return kept

    @extend_schema(parameters=INDICATOR_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.get_queryset()
        floor = self._min_score()
        decayed = _flag(request.query_params, "include_decayed")
        if floor is None and decayed:
            page = self.paginate_queryset(rows)
            assert page is not None
        else:
            ids = self.paginate_queryset(self._passing(rows, floor, decayed))
            assert ids is not None
            by_pk = rows.in_bulk(list(ids))
            page = [by_pk[pk] for pk in ids if pk in by_pk]
        data = IntelIndicatorSerializer(page, many=True, context=self._context(page)).data
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        indicator = self.get_object()
        context = self._context([indicator])
        return Response(IntelIndicatorSerializer(indicator, context=context).data)


# --- Sightings ----------------------------------------------------------------------------


class IntelSightingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Sighting],
):
    """Sightings of your organisations (CERT staff: all). POST reports that you saw a
    value (or that it is a false positive); it feeds the decay of every indicator that
    carries the value."""

    scope_resource = "intel"
    serializer_class = IntelSightingSerializer
    parser_classes = [JSONParser, FormParser]

    def get_queryset(self) -> QuerySet[Sighting]:
        if getattr(self, "swagger_fake_view", False):
            return Sighting.objects.none()
        rows = Sighting.objects.visible_to(self.request.user).select_related(
            "value", "organisation"
        )
        params = self.request.query_params
        if self.action == "list" and params.get("value"):
            kind = str(params.get("kind", "")).strip().lower() or None
            if kind is not None and kind not in obs.KINDS:
                raise ApiValidationError({"kind": [f"use one of {', '.join(obs.KINDS)}"]})
            kind, text = _normalised(kind, str(params["value"]))
            rows = rows.filter(value__kind=kind, value__value=text)
        if self.action == "list" and params.get("organisation"):
            rows = rows.filter(organisation_id=_row_id(params["organisation"]) or 0)
        if self.action == "list" and params.get("false_positive") in ("0", "1"):
            rows = rows.filter(false_positive=params["false_positive"] == "1")
        return rows.order_by("-last_seen", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("value", str),
            OpenApiParameter("kind", str),
            OpenApiParameter("organisation", int),
            OpenApiParameter("false_positive", str, description="0 or 1"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _organisation(self, named: int | None) -> Organisation:
        viewer = viewer_of(self.request.user)
        refused = _("You report sightings for your own organisation only.")
        if named is not None:
            org = Organisation.objects.filter(pk=named, is_active=True).first()
            if org is None or not can(self.request.user, "intel.report_sighting", org):
                raise ApiValidationError({"organisation": [refused]})
            return org
        if len(viewer.own_org_ids) != 1:
            raise ApiValidationError(
                {"organisation": [_("Name the organisation that saw the value.")]}
            )
        return Organisation.objects.get(pk=next(iter(viewer.own_org_ids)))

    @extend_schema(request=IntelSightingInputSerializer, responses={201: IntelSightingSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = IntelSightingInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        kind, text = _normalised(data.get("kind"), data["value"])
        first = data.get("first_seen") or timezone.now()
        last = data.get("last_seen") or first
        if last < first:
            raise ApiValidationError({"last_seen": [_("last_seen is earlier than first_seen.")]})
        organisation = self._organisation(data.get("organisation"))
        try:
            sighting = services.record_sighting(
                text,
                organisation,
                data["count"],
                first,
                last,
                data["source"],
                data["false_positive"],
                kind=kind,
                actor=acting_user(request),
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except ValueError as exc:
            raise ApiValidationError({"value": [str(exc)]}) from None
        sighting = self.get_queryset().get(pk=sighting.pk)
        return Response(IntelSightingSerializer(sighting).data, status=status.HTTP_201_CREATED)


# --- Submissions --------------------------------------------------------------------------


class IntelSubmissionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Submission],
):
    """Share a STIX 2.1 bundle, a MISP event, a CSV or a plain list into a collection (the
    same review flow as the Share page). JSON: `{"collection", "format", "content"}`
    (`content` a string, or the bundle or event itself); or a multipart form with `file`.
    The answer lists what was stored and what was refused and why."""

    scope_resource = "intel"
    serializer_class = IntelSubmissionSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Submission]:
        if getattr(self, "swagger_fake_view", False):
            return Submission.objects.none()
        return (
            Submission.objects.visible_to(self.request.user)
            .select_related("collection")
            .annotate(
                awaiting_review=Count("stix_objects", filter=Q(stix_objects__status=Status.PENDING))
            )
            .order_by("-received_at", "-pk")
        )

    def _collection(self, given: str) -> Collection:
        user = acting_user(self.request)
        readable = Collection.objects.visible_to(user)
        key = given.strip()
        row_id = _row_id(key)
        if row_id is not None:
            found = readable.filter(pk=row_id).first()
        else:
            found = readable.filter(uuid=key).first() if _is_uuid(key) else None
        if found is None:
            raise ApiValidationError({"collection": [_("No such collection.")]})
        require(user, "intel.write", found)
        return found

    def _text(self, request: Request) -> str:
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        too_large = _("Larger than %(n)d bytes; share it in several parts.") % {
            "n": sharing.MAX_UPLOAD
        }
        if upload is not None:
            if upload.size and upload.size > sharing.MAX_UPLOAD:
                raise _TooLarge(too_large)
            data: bytes = upload.read(sharing.MAX_UPLOAD + 1)
            return data.decode("utf-8", "replace")
        body: Any = request.data
        content = body.get("content")
        if content is None:
            raise ApiValidationError({"content": [_("Send content or a file.")]})
        if isinstance(content, dict | list):
            content = orjson.dumps(content).decode()
        if not isinstance(content, str):
            raise ApiValidationError(
                {"content": [_("A string, or the STIX bundle or MISP event itself.")]}
            )
        if len(content.encode()) > sharing.MAX_UPLOAD:
            raise _TooLarge(too_large)
        return content

    @extend_schema(
        request=IntelSubmissionInputSerializer, responses={201: IntelSubmissionSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not hasattr(request.data, "get"):
            raise ApiValidationError({"detail": [_("Send a JSON object or a form.")]})
        fields = IntelSubmissionFieldsSerializer(
            data={
                k: request.data.get(k) for k in ("collection", "format", "tlp") if k in request.data
            }
        )
        fields.is_valid(raise_exception=True)
        data = fields.validated_data
        level = None
        if data.get("tlp"):
            try:
                level = parse_tlp(data["tlp"])
            except ValueError as exc:
                raise ApiValidationError({"tlp": [str(exc)]}) from None
        collection = self._collection(data["collection"])
        try:
            text = self._text(request)
        except _TooLarge as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            shared = sharing.share_text(
                acting_user(request), collection, data["format"], text, level, channel="api"
            )
        except ValueError as exc:  # unreadable input (InvalidInput, InvalidMisp, ...)
            raise ApiValidationError({"content": [str(exc)]}) from None
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        submission = self.get_queryset().get(pk=shared.submission.pk)
        return Response(IntelSubmissionSerializer(submission).data, status=status.HTTP_201_CREATED)


class _TooLarge(Exception):
    pass


def _is_uuid(text: str) -> bool:

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
