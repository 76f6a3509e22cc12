from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from bulwark.constituency.models import (
    ApiToken,
    Contact,
    Invitation,
    Membership,
    NetworkClaim,
    Organisation,
    Role,
    Sector,
    User,
)
from bulwark.constituency.scopes import SCOPES
from bulwark.core.models import AuditEntry


class VisibleChoicesMixin:
    """Related fields named in `visible_choices` accept only objects the caller can see,
    so a write can never name (or probe for) an invisible organisation or user."""

    visible_choices: dict[str, Any] = {}
    fields: Any
    context: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            for name, model in self.visible_choices.items():
                if name in self.fields:
                    self.fields[name].queryset = model.objects.visible_to(request.user)


class SectorSerializer(serializers.ModelSerializer[Sector]):
    class Meta:
        model = Sector
        fields = ["id", "code", "name", "name_zh_hant", "critical_infrastructure"]


class OrganisationSerializer(VisibleChoicesMixin, serializers.ModelSerializer[Organisation]):
    sector = serializers.SlugRelatedField(
        slug_field="code", queryset=Sector.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Organisation
        fields = [
            "id", "name", "short_name", "kind", "country", "sector", "parent",
            "is_active", "notes", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness and hierarchy are validated by the service, with the same messages
        # as the web form.
        validators: list[Any] = []
        extra_kwargs: dict[str, Any] = {"name": {"validators": []}}

    visible_choices = {"parent": Organisation}


class NetworkClaimSerializer(VisibleChoicesMixin, serializers.ModelSerializer[NetworkClaim]):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none())
    value = serializers.CharField(max_length=300)

    class Meta:
        model = NetworkClaim
        fields = ["id", "organisation", "kind", "value", "note", "created_at"]
        read_only_fields = ["created_at"]
        validators: list[Any] = []

    visible_choices = {"organisation": Organisation}


class ContactSerializer(VisibleChoicesMixin, serializers.ModelSerializer[Contact]):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none())

    class Meta:
        model = Contact
        fields = ["id", "organisation", "purpose", "name", "email", "phone", "pgp_key"]

    visible_choices = {"organisation": Organisation}


class MembershipSerializer(VisibleChoicesMixin, serializers.ModelSerializer[Membership]):
    user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.none())
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none())
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["id", "user", "organisation", "role", "created_at"]
        read_only_fields = ["created_at"]
        validators: list[Any] = []

    visible_choices = {"organisation": Organisation, "user": User}


class UserSerializer(VisibleChoicesMixin, serializers.ModelSerializer[User]):
    memberships = serializers.SerializerMethodField()
    # On creation: the membership the new user starts with (required of organisation
    # admins, who create people only in organisations they administer).
    organisation = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.none(), write_only=True, required=False
    )
    role = serializers.ChoiceField(choices=Role.choices, write_only=True, required=False)

    visible_choices = {"organisation": Organisation}

    class Meta:
        model = User
        fields = [
            "id", "username", "email", "first_name", "last_name", "is_active",
            "preferred_language", "memberships", "organisation", "role",
        ]  # fmt: skip
        read_only_fields = ["is_active", "memberships"]
        # Uniqueness is checked by the service (one message for web and API).
        extra_kwargs: dict[str, Any] = {
            "username": {"validators": [UnicodeUsernameValidator()]},
            "email": {"validators": []},
        }

    def get_memberships(self, user: User) -> list[dict[str, Any]]:
        # The view prefetches only the memberships the caller may see.
        return [{"organisation": m.organisation_id, "role": m.role} for m in user.memberships.all()]


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(SCOPES)))
    days = serializers.IntegerField(write_only=True, min_value=1, max_value=366, default=90)

    class Meta:
        model = ApiToken
        fields = [
            "id", "name", "prefix", "scopes", "days", "created_at", "expires_at",
            "revoked_at", "last_used_at",
        ]  # fmt: skip
        read_only_fields = ["prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    class Meta:
        model = AuditEntry
        fields = [
            "seq", "at", "actor_label", "ip", "action", "object_type", "object_id",
            "object_label", "organisation_id", "changes", "hash",
        ]  # fmt: skip


class InvitationSerializer(VisibleChoicesMixin, serializers.ModelSerializer[Invitation]):
    """An invitation by e-mail. The link's secret is never returned: it goes to the
    invited address only."""

    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none())
    role = serializers.ChoiceField(choices=Role.choices)
    email = serializers.EmailField()
    status = serializers.CharField(read_only=True)
    invited_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Invitation
        fields = [
            "id", "email", "first_name", "last_name", "organisation", "role", "status",
            "invited_by", "created_at", "sent_at", "sent_count", "expires_at", "accepted_at",
            "revoked_at",
        ]  # fmt: skip
        read_only_fields = [
            "created_at", "sent_at", "sent_count", "expires_at", "accepted_at", "revoked_at",
        ]  # fmt: skip

    visible_choices = {"organisation": Organisation}
