from typing import Any

from rest_framework import serializers

from bulwark.advisories.models import (
    MAX_BODY_CHARS,
    SEVERITY_CHOICES,
    TLP_CHOICES,
    Advisory,
    AdvisoryCategory,
    InventoryItem,
    Publication,
    Response,
    Revision,
    Target,
)
from bulwark.constituency.models import Organisation, Sector


class RevisionSerializer(serializers.ModelSerializer[Revision]):
    author = serializers.CharField(source="author.username")
    approved_by = serializers.CharField(source="approved_by.username", default=None)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = ["id", "number", "at", "author", "approved_by", "state", "note", "changes"]

    def get_state(self, revision: Revision) -> str:
        if revision.approved_at:
            return "approved"
        return "discarded" if revision.rejected_at else "pending"


class AdvisoryListSerializer(serializers.ModelSerializer[Advisory]):
    category: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    # Plain strings in the schema: "status" enums of other apps would collide by name.
    status = serializers.CharField(read_only=True, help_text="draft, pending, approved, sent")

    class Meta:
        model = Advisory
        fields = [
            "id",
            "reference",
            "title",
            "category",
            "severity",
            "tlp",
            "publication",
            "status",
            "revision",
            "sent_at",
            "response_required",
            "response_deadline",
        ]


class AdvisoryDetailSerializer(AdvisoryListSerializer):
    revisions = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()

    class Meta(AdvisoryListSerializer.Meta):
        fields = [
            *AdvisoryListSerializer.Meta.fields,
            "title_zh_hant",
            "summary",
            "summary_zh_hant",
            "body",
            "body_zh_hant",
            "cves",
            "affected_products",
            "recommended_actions",
            "recommended_actions_zh_hant",
            "related_indicators",
            "revisions",
            "attachments",
        ]

    def get_revisions(self, advisory: Advisory) -> list[dict[str, Any]]:
        """The approved history (proposals awaiting approval: GET .../revisions/)."""
        published = advisory.revisions.published().select_related("author")
        return list(RevisionSerializer(published, many=True).data)

    def get_attachments(self, advisory: Advisory) -> list[dict[str, Any]]:
        return [
            {"id": a.pk, "name": a.name, "size": a.size, "sha256": a.sha256}
            for a in advisory.attachments.defer("data")
        ]


class CveSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(max_length=40)
    cvss_score = serializers.FloatField(required=False, allow_null=True)
    cvss_vector = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ProductSerializer(serializers.Serializer[Any]):
    vendor = serializers.CharField(max_length=100)
    product = serializers.CharField(max_length=100)
    versions = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AdvisoryWriteSerializer(serializers.Serializer[Any]):
    """What an author writes; the service validates the content again."""

    title = serializers.CharField(max_length=200)
    title_zh_hant = serializers.CharField(max_length=200, required=False, allow_blank=True)
    summary = serializers.CharField(max_length=2000)
    summary_zh_hant = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    body = serializers.CharField(max_length=MAX_BODY_CHARS)
    body_zh_hant = serializers.CharField(
        max_length=MAX_BODY_CHARS, required=False, allow_blank=True
    )
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=AdvisoryCategory.objects.all()
    )
    severity = serializers.ChoiceField(choices=SEVERITY_CHOICES)
    tlp = serializers.ChoiceField(choices=TLP_CHOICES)
    publication = serializers.ChoiceField(
        choices=Publication.choices, required=False, allow_blank=True
    )
    cves = CveSerializer(many=True, required=False)
    affected_products = ProductSerializer(many=True, required=False)
    recommended_actions = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    recommended_actions_zh_hant = serializers.CharField(
        max_length=20_000, required=False, allow_blank=True
    )
    response_required = serializers.ChoiceField(choices=Response.choices, required=False)
    response_deadline = serializers.DateTimeField(required=False, allow_null=True)
    related_indicators = serializers.ListField(
        child=serializers.CharField(max_length=2048), required=False, max_length=1000
    )
    target_all = serializers.BooleanField(required=False)
    target_inventory = serializers.BooleanField(required=False)
    target_sectors = serializers.SlugRelatedField(
        slug_field="code", queryset=Sector.objects.all(), many=True, required=False
    )
    target_authorities = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), many=True, required=False
    )
    target_organisations = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), many=True, required=False
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class RecipientSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    reason = serializers.CharField()


class TargetSerializer(serializers.ModelSerializer[Target]):
    advisory = serializers.CharField(source="advisory.reference")
    organisation = serializers.CharField(source="organisation.name")
    organisation_id = serializers.IntegerField()
    state = serializers.SerializerMethodField()

    class Meta:
        model = Target
        fields = [
            "id",
            "advisory",
            "organisation",
            "organisation_id",
            "state",
            "read_at",
            "acknowledged_at",
            "action",
            "action_note",
            "acted_at",
            "escalated_at",
        ]

    def get_state(self, target: Target) -> str:
        return target.state()


class ResponseSerializer(serializers.Serializer[Any]):
    """An agency's answer. Without `action` it acknowledges receipt."""

    organisation = serializers.IntegerField(
        required=False, help_text="Your organisation's id, if you belong to several."
    )
    action = serializers.ChoiceField(
        choices=[c for c in Target.Action.choices if c[0]], required=False
    )
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=1000)


class InventorySerializer(serializers.ModelSerializer[InventoryItem]):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())

    class Meta:
        model = InventoryItem
        fields = ["id", "organisation", "cpe", "vendor", "product", "version", "note"]
        extra_kwargs = {
            "vendor": {"required": False},
            "product": {"required": False},
            "cpe": {"required": False},
        }
