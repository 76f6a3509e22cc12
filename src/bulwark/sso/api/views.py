"""REST API for identity providers (platform admins): /api/v1/sso/providers/.
The client secret is write-only; reads go through `visible_to`, writes through services."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets

from bulwark.constituency.access import acting_user
from bulwark.constituency.api.serializers import VisibleChoicesMixin
from bulwark.constituency.api.views import VisibleMixin
from bulwark.constituency.models import Organisation
from bulwark.sso import selectors, services
from bulwark.sso.models import IdentityProvider


class IdentityProviderSerializer(
    VisibleChoicesMixin, serializers.ModelSerializer[IdentityProvider]
):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.none())
    client_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500
    )
    role_map = serializers.DictField(child=serializers.CharField(max_length=50))
    organisation_values = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )

    class Meta:
        model = IdentityProvider
        fields = [
            "id", "organisation", "slug", "name", "protocol", "is_active", "issuer",
            "client_id", "client_secret", "metadata_url", "metadata_xml", "email_claim",
            "role_claim", "role_map", "organisation_claim", "organisation_values",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness and the mapping are validated by the service, as for the web form.
        validators: list[Any] = []
        extra_kwargs: dict[str, Any] = {"slug": {"validators": []}}

    visible_choices = {"organisation": Organisation}


class IdentityProviderViewSet(
    VisibleMixin[IdentityProvider],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[IdentityProvider],
):
    model = IdentityProvider
    serializer_class = IdentityProviderSerializer
    scope_resource = "constituency"

    def get_queryset(self) -> QuerySet[IdentityProvider]:
        if getattr(self, "swagger_fake_view", False):  # schema generation, no real user
            return IdentityProvider.objects.none()
        return selectors.providers(self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[IdentityProvider]) -> None:
        serializer.instance = services.create_provider(
            acting_user(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[IdentityProvider]) -> None:
        serializer.instance = services.update_provider(
            acting_user(self.request), self.get_object(), **serializer.validated_data
        )
