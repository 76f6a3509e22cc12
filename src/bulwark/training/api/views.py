"""Training API for platform users: lists and details through `visible_to`; imports call
the services. Learners have no API access (they are not platform users)."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation
from bulwark.training import selectors, services
from bulwark.training.models import (
    Course,
    Enrolment,
    Exam,
    Learner,
    LearnerGroup,
    Lesson,
    Question,
    TrainingRecord,
    TrainingRole,
)


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


class EnrolmentSerializer(serializers.ModelSerializer[Enrolment]):
    organisation = serializers.IntegerField(source="learner.organisation_id")
    name = serializers.CharField(source="learner.name")
    staff_id = serializers.CharField(source="learner.staff_id")

    class Meta:
        model = Enrolment
        fields = ["id", "course", "learner", "organisation", "name", "staff_id", "source",
                  "created_at", "completed_at", "withdrawn_at"]  # fmt: skip


class EnrolmentPageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    results = EnrolmentSerializer(many=True)


class WithdrawSerializer(serializers.Serializer[Any]):
    learner = serializers.IntegerField(min_value=1, max_value=2**62)


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


class CourseWriteSerializer(serializers.ModelSerializer[Course]):
    """A course as written through the API: `owner` (an organisation id) and `code` only
    when it is created; `prerequisites` as course codes."""

    code = serializers.SlugField(max_length=50, required=False)
    owner = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    prerequisites = serializers.ListField(
        child=serializers.SlugField(max_length=50), required=False, max_length=100
    )

    class Meta:
        model = Course
        fields = ["code", "owner", "title", "title_zh_hant", "summary", "summary_zh_hant",
                  "hours", "hours_kind", "prerequisites"]  # fmt: skip


class ExamSerializer(serializers.ModelSerializer[Exam]):
    class Meta:
        model = Exam
        fields = ["questions_per_attempt", "pass_mark", "time_limit_minutes", "max_attempts",
                  "retake_wait_hours"]  # fmt: skip


class EnrolSerializer(serializers.Serializer[Any]):
    organisation = serializers.IntegerField(min_value=1, max_value=2**62)
    everyone = serializers.BooleanField(required=False, default=False)
    role = serializers.ChoiceField(choices=TrainingRole.choices, required=False)
    group = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    learners = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62), required=False,
        max_length=50_000,
    )  # fmt: skip


def _refused(exc: Exception, field: str = "detail") -> ValidationError:
    return ValidationError({field: " ".join(getattr(exc, "messages", [str(exc)]))})


def _prerequisites(user: Any, codes: list[str]) -> list[Course]:
    found = list(selectors.courses(user).filter(code__in=codes))
    missing = sorted(set(codes) - {c.code for c in found})
    if missing:
        raise ValidationError({"prerequisites": f"unknown courses: {', '.join(missing)}"})
    return found


class CourseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Course]
):
    """Courses you see. Writing (create, change, exam, publish, archive) follows the
    `training.author` rule: the CERT every course, an organisation's admins the courses
    it owns; enrolling follows `training.manage_learners` for the agency named."""

    scope_resource = "training"
    serializer_class = CourseSerializer

    def get_queryset(self) -> QuerySet[Course]:
        if getattr(self, "swagger_fake_view", False):
            return Course.objects.none()
        return selectors.courses(self.request.user, self.request.query_params)

    def _written(self, request: Request) -> dict[str, Any]:
        partial = request.method == "PATCH"
        serializer = CourseWriteSerializer(data=_data(request), partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "prerequisites" in data:
            data["prerequisites"] = _prerequisites(request.user, data["prerequisites"])
        return data

    @extend_schema(request=CourseWriteSerializer, responses={201: CourseSerializer})
    def create(self, request: Request) -> Response:
        """A new draft course; `owner` is the organisation it belongs to."""
        data = self._written(request)
        owner_id = data.pop("owner", None)
        if owner_id is None or not data.get("code"):
            raise ValidationError({"owner": "owner and code are required"})
        owner = get_object_or_404(Organisation.objects.visible_to(request.user), pk=owner_id)
        if Course.objects.filter(code=data["code"]).exists():
            raise ValidationError({"code": "a course with this code exists"})
        try:
            course = services.create_course(acting_user(request), owner, **data)
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(CourseSerializer(course).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CourseWriteSerializer, responses=CourseSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change a course's texts, hours or prerequisites (not its code nor owner)."""
        course = self.get_object()
        data = self._written(request)
        if "code" in data or "owner" in data:
            raise ValidationError({"detail": "a course's code and owner cannot change"})
        try:
            services.update_course(acting_user(request), course, **data)
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(CourseSerializer(course).data)

    @extend_schema(request=ExamSerializer, responses=ExamSerializer)
    @action(detail=True, methods=["put"])
    def exam(self, request: Request, pk: str | None = None) -> Response:
        """Set the course's exam (questions per attempt, pass mark, time, retakes)."""
        course = self.get_object()
        serializer = ExamSerializer(data=_data(request))
        serializer.is_valid(raise_exception=True)
        try:
            exam = services.set_exam(acting_user(request), course, **serializer.validated_data)
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(ExamSerializer(exam).data)

    @extend_schema(request=None, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        course = self.get_object()
        try:
            services.publish_course(acting_user(request), course)
        except services.TrainingError as exc:
            raise _refused(exc) from exc
        return Response(CourseSerializer(course).data)

    @extend_schema(request=None, responses=CourseSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        course = self.get_object()
        services.archive_course(acting_user(request), course)
        return Response(CourseSerializer(course).data)

    @extend_schema(request=EnrolSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def enrol(self, request: Request, pk: str | None = None) -> Response:
        """Enrol an agency's learners: `everyone`, a statutory `role`, a `group` id or a
        list of `learners` ids (one of them). Answers how many were newly enrolled."""
        course = self.get_object()
        serializer = EnrolSerializer(data=_data(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        org = get_object_or_404(Organisation.objects.visible_to(request.user),
                                pk=data["organisation"])  # fmt: skip
        chosen = [k for k in ("role", "group", "learners") if data.get(k)]
        if len(chosen) + bool(data["everyone"]) != 1:
            raise ValidationError({"detail": "name one of everyone, role, group, learners"})
        group = None
        if data.get("group"):
            group = get_object_or_404(LearnerGroup.objects.visible_to(request.user),
                                      pk=data["group"], organisation=org)  # fmt: skip
        learners = Learner.objects.filter(pk__in=data.get("learners") or [])
        try:
            added = services.enrol(acting_user(request), course, org, learners=learners,
                                   role=data.get("role"), group=group,
                                   everyone=data["everyone"])  # fmt: skip
        except services.TrainingError as exc:
            raise _refused(exc) from exc
        return Response({"enrolled": added})

    @extend_schema(
        responses=EnrolmentPageSerializer,
        parameters=[
            OpenApiParameter("q", str),
            OpenApiParameter("status", str, enum=["active", "withdrawn"]),
            OpenApiParameter("page", int),
        ],
    )
    @action(detail=True, methods=["get"])
    def enrolments(self, request: Request, pk: str | None = None) -> Response:
        """The course's enrolments of the learners you see (`?q=`, `?status=active` or
        `withdrawn`), 100 a page (`?page=`)."""
        course = self.get_object()
        found = selectors.course_enrolments(request.user, course, request.query_params)
        raw = str(request.query_params.get("page", "1"))
        number = int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1
        rows = found[(number - 1) * 100 : number * 100]
        return Response({"count": found.count(), "page": number,
                         "results": EnrolmentSerializer(rows, many=True).data})  # fmt: skip

    @extend_schema(request=WithdrawSerializer, responses=EnrolmentSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a learner (`{"learner": id}`) from the course; progress, attempts,
        records and certificates are kept; enrolling them again (`enrol` with `learners`)
        restores the enrolment."""
        course = self.get_object()
        serializer = WithdrawSerializer(data=_data(request))
        serializer.is_valid(raise_exception=True)
        enrolment = get_object_or_404(
            selectors.enrolments(request.user).filter(course=course),
            learner_id=serializer.validated_data["learner"],
        )
        try:
            withdrawn = services.withdraw_enrolment(acting_user(request), enrolment)
        except services.TrainingError as exc:
            raise _refused(exc) from exc
        return Response(EnrolmentSerializer(withdrawn).data)


class LessonSerializer(serializers.ModelSerializer[Lesson]):
    course = serializers.IntegerField(source="course_id", min_value=1, max_value=2**62)
    video_url = serializers.URLField(required=False, allow_blank=True, max_length=200)

    class Meta:
        model = Lesson
        fields = ["id", "course", "position", "title", "title_zh_hant", "body", "body_zh_hant",
                  "video_url", "is_active"]  # fmt: skip
        read_only_fields = ["id"]


class LessonViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Lesson]
):
    """Lessons of the courses you see (retired ones only to those who may write them).
    Adding, changing and retiring (`is_active: false`) follow `training.author`."""

    scope_resource = "training"
    serializer_class = LessonSerializer

    def get_queryset(self) -> QuerySet[Lesson]:
        if getattr(self, "swagger_fake_view", False):
            return Lesson.objects.none()
        found = selectors.lessons(self.request.user)
        course = self.request.query_params.get("course", "")
        return found.filter(course_id=int(course)) if course.isdigit() else found

    def create(self, request: Request) -> Response:
        serializer = LessonSerializer(data=_data(request))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        course = selectors.courses(request.user).filter(pk=data.pop("course_id")).first()
        if course is None:
            raise NotFound
        data.pop("is_active", None)
        try:
            lesson = services.add_lesson(acting_user(request), course, **data)
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(LessonSerializer(lesson).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        lesson = self.get_object()
        serializer = LessonSerializer(lesson, data=_data(request), partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "course_id" in data and data.pop("course_id") != lesson.course_id:
            raise ValidationError({"course": "a lesson cannot move to another course"})
        active = data.pop("is_active", None)
        actor = acting_user(request)
        try:
            if data:
                services.update_lesson(actor, lesson, **data)
            if active is not None and active != lesson.is_active:
                services.set_lesson_active(actor, lesson, active)
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(LessonSerializer(lesson).data)


class OptionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(max_length=20)
    text = serializers.CharField(max_length=1000, allow_blank=True)
    text_zh_hant = serializers.CharField(max_length=1000, allow_blank=True, required=False,
                                         default="")  # fmt: skip
    correct = serializers.BooleanField()


class QuestionSerializer(serializers.ModelSerializer[Question]):
    exam = serializers.IntegerField(source="exam_id", min_value=1, max_value=2**62)
    options = OptionSerializer(many=True)
    text_zh_hant = serializers.CharField(max_length=5000, allow_blank=True, required=False)

    class Meta:
        model = Question
        fields = ["id", "exam", "kind", "text", "text_zh_hant", "options", "is_active",
                  "replaces"]  # fmt: skip
        read_only_fields = ["id", "replaces"]


class QuestionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Question]
):
    """Question banks, right answers included: only of the courses you may write. A
    change to the options or right answers of a question attempts have drawn answers
    with the new version (`id` differs, `replaces` names the old one, now retired)."""

    scope_resource = "training"
    serializer_class = QuestionSerializer

    def get_queryset(self) -> QuerySet[Question]:
        if getattr(self, "swagger_fake_view", False):
            return Question.objects.none()
        found = selectors.questions(self.request.user)
        course = self.request.query_params.get("course", "")
        return found.filter(exam__course_id=int(course)) if course.isdigit() else found

    def create(self, request: Request) -> Response:
        serializer = QuestionSerializer(data=_data(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        exam = Exam.objects.filter(
            pk=data["exam_id"], course__in=selectors.courses(request.user)
        ).first()
        if exam is None:
            raise NotFound
        try:
            question = services.add_question(
                acting_user(request), exam, kind=data["kind"], text=data["text"],
                text_zh_hant=data.get("text_zh_hant", ""),
                options=[dict(o) for o in data["options"]],
            )  # fmt: skip
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(QuestionSerializer(question).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        question = self.get_object()
        serializer = QuestionSerializer(question, data=_data(request), partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "exam_id" in data and data.pop("exam_id") != question.exam_id:
            raise ValidationError({"exam": "a question cannot move to another exam"})
        active = data.pop("is_active", None)
        actor = acting_user(request)
        kept = question
        try:
            if data:
                kept = services.update_question(
                    actor, question, kind=data.get("kind", question.kind),
                    text=data.get("text", question.text),
                    text_zh_hant=data.get("text_zh_hant", question.text_zh_hant),
                    options=[dict(o) for o in data.get("options", question.options)],
                )  # fmt: skip
            if active is not None and active != kept.is_active:
                services.set_question_active(actor, kept, active)
        except (services.TrainingError, DjangoValidationError) as exc:
            raise _refused(exc) from exc
        return Response(QuestionSerializer(kept).data)


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
