"""Registers the training app's viewsets on the REST API router (/api/v1/)."""

from rest_framework.routers import BaseRouter

from bulwark.training.api.views import (
    ComplianceViewSet,
    CourseViewSet,
    LearnerViewSet,
    LessonViewSet,
    QuestionViewSet,
    TrainingRecordViewSet,
)


def register(router: BaseRouter) -> None:
    """Add this app's viewsets to `router`."""
    router.register("training/courses", CourseViewSet, basename="training-course")
    router.register("training/learners", LearnerViewSet, basename="training-learner")
    router.register("training/records", TrainingRecordViewSet, basename="training-record")
    router.register("training/compliance", ComplianceViewSet, basename="training-compliance")
    router.register("training/lessons", LessonViewSet, basename="training-lesson")
    router.register("training/questions", QuestionViewSet, basename="training-question")
