"""Exercises on the REST API (`/api/v1/drills/exercises/...`): exercises, injects,
responses, scores and improvement items, read through `visible_to`; every change calls
a service (registered by `drills.api.routes`)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user
from bulwark.constituency.models import User
from bulwark.drills.exercises import selectors, services
from bulwark.drills.models import (
    Exercise,
    ExerciseResponse,
    ExerciseScore,
    Expectation,
    ImprovementItem,
    Inject,
)


class ExerciseSerializer(serializers.ModelSerializer[Exercise]):
    class Meta:
        model = Exercise
        fields = [
            "id", "title", "kind", "scope", "role", "organiser", "scenario_en",
            "scenario_zh_hant", "planned_start", "state", "started_at", "ended_at",
            "reported_at",
        ]  # fmt: skip
        read_only_fields = fields


class ExpectationSerializer(serializers.ModelSerializer[Expectation]):
    class Meta:
        model = Expectation
        fields = ["id", "kind", "description", "points"]
        read_only_fields = fields


class InjectSerializer(serializers.ModelSerializer[Inject]):
    expectations = ExpectationSerializer(many=True, read_only=True)

    class Meta:
        model = Inject
        fields = [
            "id", "exercise", "title", "body_en", "body_zh_hant", "offset_minutes", "channel",
            "delivered_at", "expectations",
        ]  # fmt: skip
        read_only_fields = fields


class ExerciseResponseSerializer(serializers.ModelSerializer[ExerciseResponse]):
    organisation = serializers.IntegerField(source="team.organisation_id", read_only=True)
    organisation_name = serializers.CharField(source="team.organisation.name", read_only=True)

    class Meta:
        model = ExerciseResponse
        fields = [
            "id", "expectation", "team", "organisation", "organisation_name", "text",
            "submitted_at",
        ]  # fmt: skip
        read_only_fields = fields


class ScoreSerializer(serializers.ModelSerializer[ExerciseScore]):
    organisation = serializers.IntegerField(source="team.organisation_id", read_only=True)
    organisation_name = serializers.CharField(source="team.organisation.name", read_only=True)

    class Meta:
        model = ExerciseScore
        fields = [
            "id", "expectation", "team", "organisation", "organisation_name", "score",
            "comment", "scored_at",
        ]  # fmt: skip
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer[ImprovementItem]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = ImprovementItem
        fields = [
            "id", "exercise", "organisation", "organisation_name", "title", "owner", "due_on",
            "state", "note", "done_at",
        ]  # fmt: skip
        read_only_fields = fields


class CellBody(serializers.Serializer[Any]):
    expectation = serializers.IntegerField()
    team = serializers.IntegerField()


class ResponseBody(CellBody):
    text = serializers.CharField(max_length=10000)


class ScoreBody(CellBody):
    score = serializers.IntegerField(min_value=0, max_value=1000)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ProgressBody(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=ImprovementItem.State.choices)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ExpectationBody(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Expectation.Kind.choices)
    description = serializers.CharField(max_length=500)
    points = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class InjectBody(serializers.Serializer[Any]):
    """An inject's new content; its expectations replace the earlier ones."""

    title = serializers.CharField(max_length=200)
    body_en = serializers.CharField(max_length=20000)
    body_zh_hant = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    offset_minutes = serializers.IntegerField(min_value=0)
    channel = serializers.ChoiceField(choices=Inject.Channel.choices, default="in_app")
    expectations = ExpectationBody(many=True, required=False)


class PeopleBody(serializers.Serializer[Any]):
    users = serializers.ListField(child=serializers.IntegerField(), max_length=500)


class PlayersBody(PeopleBody):
    team = serializers.IntegerField()


def _people(ids: list[int]) -> list[User]:
    found = list(User.objects.filter(pk__in=ids, is_active=True))
    if len(found) != len(set(ids)):
        raise ValidationError(_("Unknown or inactive user."))
    return found


def _refused(exc: ValidationError) -> Response:
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)


class ExerciseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Exercise]
):
    """Exercises the reader may see (an agency: those with its team, once started)."""

    scope_resource = "drills"
    serializer_class = ExerciseSerializer

    def get_queryset(self) -> QuerySet[Exercise]:
        if getattr(self, "swagger_fake_view", False):
            return Exercise.objects.none()
        return selectors.exercises(self.request.user, self.request.query_params)

    def _act(self, call: Any) -> Response:
        try:
            exercise = call(acting_user(self.request), self.get_object())
        except ValidationError as exc:
            return _refused(exc)
        return Response(ExerciseSerializer(exercise).data)

    @extend_schema(request=None, responses={200: ExerciseSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Start the exercise (its control team): injects at offset 0 are delivered."""
        return self._act(services.start)

    @extend_schema(request=None, responses={200: ExerciseSerializer})
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.end)

    @extend_schema(request=PeopleBody, responses={200: ExerciseSerializer})
    @action(detail=True, methods=["post"])
    def evaluators(self, request: Request, pk: str | None = None) -> Response:
        """Name the evaluators (user ids): CERT staff, and for an international exercise
        outside evaluators of other organisations."""
        body = PeopleBody(data=request.data)
        body.is_valid(raise_exception=True)
        exercise = self.get_object()
        try:
            services.set_evaluators(
                acting_user(request), exercise, _people(body.validated_data["users"])
            )
        except ValidationError as exc:
            return _refused(exc)
        return Response(ExerciseSerializer(exercise).data)

    @extend_schema(request=PlayersBody, responses={200: ExerciseSerializer})
    @action(detail=True, methods=["post"])
    def players(self, request: Request, pk: str | None = None) -> Response:
        """Name a team's players (user ids of its agency's members; [] = all members)."""
        body = PlayersBody(data=request.data)
        body.is_valid(raise_exception=True)
        exercise = self.get_object()
        team = get_object_or_404(
            selectors.teams(exercise, request.user), pk=body.validated_data["team"]
        )
        try:
            services.set_players(acting_user(request), team, _people(body.validated_data["users"]))
        except ValidationError as exc:
            return _refused(exc)
        return Response(ExerciseSerializer(exercise).data)

    @extend_schema(responses={200: InjectSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def injects(self, request: Request, pk: str | None = None) -> Response:
        """The injects the reader may see: delivered to a team of theirs (all: CERT)."""
        rows = selectors.injects(self.get_object(), request.user)
        return Response(InjectSerializer(rows, many=True).data)

    def _cell(self, body: CellBody) -> tuple[Expectation, Any]:
        exercise = self.get_object()
        expectation = get_object_or_404(
            selectors.expectations(exercise, self.request.user),
            pk=body.validated_data["expectation"],
        )
        team = get_object_or_404(
            selectors.teams(exercise, self.request.user), pk=body.validated_data["team"]
        )
        return expectation, team

    @extend_schema(request=ResponseBody, responses={201: ExerciseResponseSerializer})
    @action(detail=True, methods=["post"])
    def respond(self, request: Request, pk: str | None = None) -> Response:
        """A player's response for their team to one expectation of a delivered inject."""
        body = ResponseBody(data=request.data)
        body.is_valid(raise_exception=True)
        expectation, team = self._cell(body)
        try:
            row = services.respond(
                acting_user(request), expectation, team, text=body.validated_data["text"]
            )
        except ValidationError as exc:
            return _refused(exc)
        return Response(ExerciseResponseSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScoreBody, responses={201: ScoreSerializer})
    @action(detail=True, methods=["post"])
    def score(self, request: Request, pk: str | None = None) -> Response:
        """An evaluator's score of one expectation for one team."""
        body = ScoreBody(data=request.data)
        body.is_valid(raise_exception=True)
        expectation, team = self._cell(body)
        try:
            row = services.score(
                acting_user(request), expectation, team, points=body.validated_data["score"],
                comment=body.validated_data.get("comment", ""),
            )  # fmt: skip
        except ValidationError as exc:
            return _refused(exc)
        return Response(ScoreSerializer(row).data, status=status.HTTP_201_CREATED)


class InjectViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Inject]
):
    """Injects the reader may see; the control team changes (PUT, PATCH) or deletes one
    not delivered yet (a delivered inject: 400 with the reason)."""

    scope_resource = "drills"
    serializer_class = InjectSerializer

    @extend_schema(request=InjectBody, responses={200: InjectSerializer})
    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        inject = self.get_object()
        current = {
            "title": inject.title, "body_en": inject.body_en,
            "body_zh_hant": inject.body_zh_hant, "offset_minutes": inject.offset_minutes,
            "channel": inject.channel,
            "expectations": [
                {"kind": e.kind, "description": e.description, "points": e.points}
                for e in inject.expectations.all()
            ],
        }  # fmt: skip
        given = request.data if isinstance(request.data, dict) else {}
        body = InjectBody(data={**current, **given} if partial else request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        rows = [(e["kind"], e["description"], e["points"]) for e in data.pop("expectations", [])]
        try:
            inject = services.update_inject(
                acting_user(request), inject, teams=list(inject.teams.all()), expectations=rows,
                **data,
            )  # fmt: skip
        except ValidationError as exc:
            return _refused(exc)
        return Response(InjectSerializer(Inject.objects.get(pk=inject.pk)).data)

    @extend_schema(request=InjectBody, responses={200: InjectSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        try:
            services.delete_inject(acting_user(request), self.get_object())
        except ValidationError as exc:
            return _refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_queryset(self) -> QuerySet[Inject]:
        if getattr(self, "swagger_fake_view", False):
            return Inject.objects.none()
        return (
            Inject.objects.visible_to(self.request.user)
            .prefetch_related("expectations")
            .order_by("exercise_id", "offset_minutes", "pk")
        )

    @extend_schema(request=None, responses={200: InjectSerializer})
    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, pk: str | None = None) -> Response:
        """The control team delivers the inject now."""
        try:
            inject = services.deliver(acting_user(request), self.get_object())
        except ValidationError as exc:
            return _refused(exc)
        return Response(InjectSerializer(inject).data)


class ResponseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ExerciseResponse]
):
    scope_resource = "drills"
    serializer_class = ExerciseResponseSerializer

    def get_queryset(self) -> QuerySet[ExerciseResponse]:
        if getattr(self, "swagger_fake_view", False):
            return ExerciseResponse.objects.none()
        return selectors.responses(self.request.user)


class ScoreViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ExerciseScore]
):
    scope_resource = "drills"
    serializer_class = ScoreSerializer

    def get_queryset(self) -> QuerySet[ExerciseScore]:
        if getattr(self, "swagger_fake_view", False):
            return ExerciseScore.objects.none()
        return selectors.scores(self.request.user)


class ItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ImprovementItem]
):
    scope_resource = "drills"
    serializer_class = ItemSerializer

    def get_queryset(self) -> QuerySet[ImprovementItem]:
        if getattr(self, "swagger_fake_view", False):
            return ImprovementItem.objects.none()
        return selectors.items(self.request.user)

    @extend_schema(request=ProgressBody, responses={200: ItemSerializer})
    @action(detail=True, methods=["post"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        """Move the item on (open, in_progress, done), with a note."""
        item = self.get_object()
        body = ProgressBody(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            item = services.update_item(
                acting_user(request), item, state=body.validated_data["state"],
                note=body.validated_data.get("note", ""),
            )  # fmt: skip
        except ValidationError as exc:
            return _refused(exc)
        return Response(ItemSerializer(item).data)
