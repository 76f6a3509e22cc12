"""REST API for the constituency. Every queryset starts from `visible_to(request.user)`;
every write calls a service."""

from typing import Any, TypeVar, cast

from django.db.models import Model, Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from bulwark.constituency import networks, selectors, services
from bulwark.constituency.access import acting_user
from bulwark.constituency.api import serializers as s
from bulwark.constituency.api.caching import CachedReadMixin, cached_read
from bulwark.constituency.models import (
    ApiToken,
    Contact,
    Invitation,
    Membership,
    NetworkClaim,
    Organisation,
    Sector,
    User,
)
from bulwark.core.models import AuditEntry
from bulwark.core.params import id_param
from bulwark.core.views import filter_audit

_M = TypeVar("_M", bound=Model)


class VisibleMixin(generics.GenericAPIView[_M]):
    """Start every read from the model's visibility rule."""

    model: type[_M]

    def get_queryset(self) -> QuerySet[_M]:
        # Every model served here has a `visible_to(user)` method on its `objects`.
        objects = cast(Any, self.model).objects
        if getattr(self, "swagger_fake_view", False):  # schema generation, no real user
            empty: QuerySet[_M] = objects.none()
            return empty
        visible: QuerySet[_M] = objects.visible_to(self.request.user)
        return visible


class ReadCreateViewSet(
    VisibleMixin[_M],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[_M],
):
    """List, detail and create; subclasses add update or delete where they allow it."""


class ReadCreateDeleteViewSet(ReadCreateViewSet[_M], mixins.DestroyModelMixin):
    pass


class SectorViewSet(CachedReadMixin, VisibleMixin[Sector], viewsets.ReadOnlyModelViewSet[Sector]):
    model = Sector
    serializer_class = s.SectorSerializer
    scope_resource = "constituency"


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("kind", str),
            OpenApiParameter("sector", str, description="sector code"),
            OpenApiParameter("country", str),
            OpenApiParameter("parent", int),
            OpenApiParameter("q", str, description="name contains"),
        ]
    )
)
class OrganisationViewSet(
    CachedReadMixin, ReadCreateViewSet[Organisation], mixins.UpdateModelMixin
):
    model = Organisation
    serializer_class = s.OrganisationSerializer
    scope_resource = "constituency"

    def get_queryset(self) -> QuerySet[Organisation]:
        orgs = super().get_queryset().select_related("sector")
        params = self.request.query_params
        orgs = selectors.filter_organisations(
            orgs,
            q=params.get("q", "")[:100],
            kind=params.get("kind", ""),
            country=params.get("country", "").upper()[:2],
        )
        if params.get("sector"):
            orgs = orgs.filter(sector__code=params["sector"])
        if (parent := id_param(params, "parent")) is not None:
            orgs = orgs.filter(parent_id=parent)
        return orgs

    def perform_create(self, serializer: serializers.BaseSerializer[Organisation]) -> None:
        serializer.instance = services.create_organisation(
            acting_user(self.request),
            **serializer.validated_data,
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Organisation]) -> None:
        serializer.instance = services.update_organisation(
            acting_user(self.request),
            self.get_object(),
            **serializer.validated_data,
        )


class NetworkClaimViewSet(CachedReadMixin, ReadCreateDeleteViewSet[NetworkClaim]):
    model = NetworkClaim
    serializer_class = s.NetworkClaimSerializer
    scope_resource = "constituency"

    def get_queryset(self) -> QuerySet[NetworkClaim]:
        claims = super().get_queryset()
        params = self.request.query_params
        if (organisation := id_param(params, "organisation")) is not None:
            claims = claims.filter(organisation_id=organisation)
        if params.get("kind"):
            claims = claims.filter(kind=params["kind"])
        return claims

    def perform_create(self, serializer: serializers.BaseSerializer[NetworkClaim]) -> None:
        data = serializer.validated_data
        serializer.instance = services.add_network(
            acting_user(self.request),
            data["organisation"],
            data["kind"],
            data["value"],
            data.get("note", ""),
        )

    def perform_destroy(self, instance: NetworkClaim) -> None:
        services.remove_network(acting_user(self.request), instance)

    @extend_schema(
        parameters=[
            OpenApiParameter("ip", str),
            OpenApiParameter("domain", str),
            OpenApiParameter("asn", str),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def resolve(self, request: Request) -> Any:
        """The organisation responsible for an address, domain or AS number: the most
        specific claim (longest prefix, longest domain suffix) among those you can see."""
        return cached_read(request, lambda: self._resolve(request))

    def _resolve(self, request: Request) -> Response:
        params = request.query_params
        given = [k for k in ("ip", "domain", "asn") if params.get(k)]
        if len(given) != 1:
            return Response(
                {"detail": _("Give exactly one of ip, domain or asn.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        key = given[0]
        kind = {"ip": "cidr", "domain": "domain", "asn": "asn"}[key]
        value = params[key][:300]
        try:
            # Only the claims that could cover the value, not every visible claim: the
            # answer is the same and the cost no longer grows with the constituency.
            candidates = networks.covering_values(kind, value)
        except ValueError as exc:
            return Response({key: [str(exc) or _("Invalid value.")]}, status=400)
        claims = self.get_queryset().filter(kind=kind, value__in=candidates)
        index = networks.NetworkIndex(c.as_claim() for c in claims)
        try:
            if key == "ip":
                found = index.for_ip(value)
            elif key == "domain":
                found = index.for_domain(value)
            else:
                found = index.for_asn(value)
        except ValueError as exc:
            return Response({key: [str(exc) or _("Invalid value.")]}, status=400)
        if not found:
            return Response({"detail": _("No visible organisation claims this.")}, status=404)
        return Response(
            {
                "query": {key: value},
                "claim": found[0].value,
                "organisations": sorted(int(str(c.owner)) for c in found),
                "ambiguous": len(found) > 1,
            }
        )


class ContactViewSet(VisibleMixin[Contact], viewsets.ModelViewSet[Contact]):
    model = Contact
    serializer_class = s.ContactSerializer
    scope_resource = "constituency"

    def perform_create(self, serializer: serializers.BaseSerializer[Contact]) -> None:
        data = dict(serializer.validated_data)
        org = data.pop("organisation")
        serializer.instance = services.add_contact(acting_user(self.request), org, **data)

    def perform_update(self, serializer: serializers.BaseSerializer[Contact]) -> None:
        data = dict(serializer.validated_data)
        data.pop("organisation", None)
        serializer.instance = services.update_contact(
            acting_user(self.request), self.get_object(), **data
        )

    def perform_destroy(self, instance: Contact) -> None:
        services.remove_contact(acting_user(self.request), instance)


class MembershipViewSet(ReadCreateDeleteViewSet[Membership]):
    model = Membership
    serializer_class = s.MembershipSerializer
    scope_resource = "constituency"

    def get_queryset(self) -> QuerySet[Membership]:
        return super().get_queryset().select_related("user")

    def perform_create(self, serializer: serializers.BaseSerializer[Membership]) -> None:
        data = serializer.validated_data
        serializer.instance = services.add_membership(
            acting_user(self.request),
            data["user"],
            data["organisation"],
            data["role"],
        )

    def perform_destroy(self, instance: Membership) -> None:
        services.remove_membership(acting_user(self.request), instance)


class InvitationViewSet(ReadCreateDeleteViewSet[Invitation]):
    """Invitations by e-mail, with the web form's rules: an organisation admin invites into
    organisations they administer with roles they may grant. DELETE withdraws a pending
    invitation; POST .../resend/ sends a new link (the earlier one stops working)."""

    model = Invitation
    serializer_class = s.InvitationSerializer
    scope_resource = "constituency"

    def get_queryset(self) -> QuerySet[Invitation]:
        invitations = super().get_queryset().select_related("invited_by")
        if (organisation := id_param(self.request.query_params, "organisation")) is not None:
            invitations = invitations.filter(organisation_id=organisation)
        return invitations

    def perform_create(self, serializer: serializers.BaseSerializer[Invitation]) -> None:
        data = serializer.validated_data
        serializer.instance = services.invite_member(
            acting_user(self.request),
            data["organisation"],
            email=data["email"],
            role=data["role"],
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
        )

    def perform_destroy(self, instance: Invitation) -> None:
        services.revoke_invitation(acting_user(self.request), instance)

    @extend_schema(request=None, responses={200: s.InvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str | None = None) -> Response:
        invitation = services.resend_invitation(acting_user(request), self.get_object())
        return Response(self.get_serializer(invitation).data)


class UserViewSet(CachedReadMixin, ReadCreateViewSet[User]):
    model = User
    serializer_class = s.UserSerializer
    scope_resource = "constituency"

    def get_queryset(self) -> QuerySet[User]:
        visible = Membership.objects.visible_to(self.request.user)
        return super().get_queryset().prefetch_related(Prefetch("memberships", queryset=visible))

    def perform_create(self, serializer: serializers.BaseSerializer[User]) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_user(
            acting_user(self.request),
            username=data["username"],
            email=data["email"],
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            organisation=data.get("organisation"),
            role=data.get("role"),
        )


class ApiTokenViewSet(ReadCreateDeleteViewSet[ApiToken]):
    """Your API tokens. Creating one returns its secret once, in `token`; DELETE revokes."""

    model = ApiToken
    serializer_class = s.ApiTokenSerializer
    required_scope = "tokens:manage"

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return super().get_queryset().filter(user=acting_user(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, secret = services.create_api_token(
            acting_user(request),
            acting_user(request),
            name=data["name"],
            scopes=data["scopes"],
            days=data["days"],
            minted_with=request.auth if isinstance(request.auth, ApiToken) else None,
        )
        body = {**self.get_serializer(token).data, "token": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.revoke_api_token(acting_user(self.request), instance)


class AuditEntryViewSet(VisibleMixin[AuditEntry], viewsets.ReadOnlyModelViewSet[AuditEntry]):
    """The audit log, newest first. Filters: action (prefix), actor, object_type,
    object_id, organisation, since, until (dates)."""

    model = AuditEntry
    serializer_class = s.AuditEntrySerializer
    required_scope = "audit:read"
    lookup_field = "seq"

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return filter_audit(super().get_queryset(), self.request.query_params)
