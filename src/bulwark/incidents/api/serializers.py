from typing import Any

from rest_framework import serializers

from bulwark.constituency.models import Organisation, User
from bulwark.incidents.indicators import KINDS as INDICATOR_KINDS
from bulwark.incidents.models import (
    IMPACT_CHOICES,
    SECRET_CHOICES,
    TLP_CHOICES,
    FinalReport,
    Incident,
    IncidentIndicator,
    ResponseTask,
    TimelineEntry,
)
from bulwark.incidents.services import clock_states
from bulwark.incidents.taxonomy import CLASS_CHOICES, TYPE_CHOICES


class ClockSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    state = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    met_at = serializers.DateTimeField(allow_null=True)
    extended = serializers.BooleanField()


class TimelineEntrySerializer(serializers.ModelSerializer[TimelineEntry]):
    author = serializers.CharField(source="author.username", default=None)

    class Meta:
        model = TimelineEntry
        fields = ["at", "author", "kind", "text"]


class IndicatorSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=list(INDICATOR_KINDS), required=False)
    value = serializers.CharField(max_length=2048)


class TaskSerializer(serializers.ModelSerializer[ResponseTask]):
    owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all())

    class Meta:
        model = ResponseTask
        fields = ["id", "title", "owner", "due_at", "done_at"]
        read_only_fields = ["done_at"]


class IncidentListSerializer(serializers.ModelSerializer[Incident]):
    class Meta:
        model = Incident
        fields = [
            "id", "reference", "organisation", "title", "status", "level", "rsit_class",
            "rsit_type", "tlp", "is_drill", "aware_at", "reported_at", "next_due_at", "assignee",
        ]  # fmt: skip


class IndicatorOutSerializer(serializers.ModelSerializer[IncidentIndicator]):
    tags = serializers.ListField(source="tag_list", child=serializers.CharField(), read_only=True)

    class Meta:
        model = IncidentIndicator
        fields = ["id", "kind", "value", "tags"]


class IncidentDetailSerializer(IncidentListSerializer):
    clocks = serializers.SerializerMethodField()
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    indicators = IndicatorOutSerializer(many=True, read_only=True)
    tasks = TaskSerializer(many=True, read_only=True)
    tags: Any = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta(IncidentListSerializer.Meta):
        fields = [
            *IncidentListSerializer.Meta.fields, "description", "profile", "proposed_level",
            "level_reason", "confidentiality", "integrity", "availability", "core_system",
            "critical_infrastructure", "secret", "restored_in_time", "affected_systems",
            "backfill_reason", "recorded_at", "reviewed_at", "forwarded_at", "recovered_at",
            "final_report_at", "final_report_extended_to", "closed_at", "clocks", "timeline",
            "indicators", "tasks", "tags",
        ]  # fmt: skip

    def get_clocks(self, incident: Incident) -> list[dict[str, Any]]:
        return ClockSerializer(clock_states(incident), many=True).data  # type: ignore[return-value]


IMPACT = IMPACT_CHOICES


class ReportSerializer(serializers.Serializer[Any]):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none())
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20_000)
    rsit_class = serializers.ChoiceField(choices=CLASS_CHOICES)
    rsit_type = serializers.ChoiceField(choices=TYPE_CHOICES)
    aware_at = serializers.DateTimeField()
    confidentiality = serializers.ChoiceField(choices=IMPACT, default="none")
    integrity = serializers.ChoiceField(choices=IMPACT, default="none")
    availability = serializers.ChoiceField(choices=IMPACT, default="none")
    core_system = serializers.BooleanField(default=False)
    critical_infrastructure = serializers.BooleanField(default=False)
    restored_in_time = serializers.BooleanField(allow_null=True, default=None)
    secret = serializers.ChoiceField(choices=SECRET_CHOICES, default="none")
    level = serializers.IntegerField(min_value=1, max_value=4, required=False)
    level_reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    reported_at = serializers.DateTimeField(required=False)
    backfill_reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    affected_systems = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    tlp = serializers.ChoiceField(choices=TLP_CHOICES, default="amber")
    is_drill = serializers.BooleanField(default=False)
    profile = serializers.CharField(max_length=20, default="tw")
    indicators = serializers.ListField(child=IndicatorSerializer(), required=False, max_length=1000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["organisation"].queryset = Organisation.objects.visible_to(request.user)  # type: ignore[attr-defined]


class LevelSerializer(serializers.Serializer[Any]):
    level = serializers.IntegerField(min_value=1, max_value=4)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["note", "guidance", "action", "ciso_meeting"])
    text = serializers.CharField(max_length=10_000)


class RecoverySerializer(serializers.Serializer[Any]):
    completed_at = serializers.DateTimeField()
    summary = serializers.CharField(max_length=10_000)


class FinalReportSerializer(serializers.ModelSerializer[FinalReport]):
    class Meta:
        model = FinalReport
        fields = [*FinalReport.ITEMS, "submitted_at", "review_comment"]
        read_only_fields = ["submitted_at", "review_comment"]


class DecisionSerializer(serializers.Serializer[Any]):
    approve = serializers.BooleanField()
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    # Approving with tasks still open is refused unless this says the CERT means it.
    close_with_open_tasks = serializers.BooleanField(required=False, default=False)


class ExtensionSerializer(serializers.Serializer[Any]):
    until = serializers.DateTimeField()
    reason = serializers.CharField(max_length=2000)
