"""Web pages for the constituency. Reads go through `visible_to`, writes through services."""

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency import networks, rules, selectors, services
from bulwark.constituency.access import acting_user, viewer_of
from bulwark.constituency.forms import (
    ApiTokenForm,
    ContactForm,
    InvitationAcceptForm,
    InvitationForm,
    MembershipForm,
    NetworkClaimForm,
    OrganisationFilterForm,
    OrganisationForm,
    OTPTokenForm,
    SecondFactorForm,
    UserCreateForm,
)
from bulwark.constituency.models import (
    SUPERVISING_KINDS,
    ApiToken,
    Contact,
    Invitation,
    Membership,
    NetworkClaim,
    Organisation,
    User,
)
from bulwark.core import audit
from bulwark.core.permissions import Reader, can, require

PAGE_SIZE = 50


def run_service(form: BaseForm, call: Callable[[], Any]) -> Any:
    """Call a service; turn its ValidationError into errors on the form. Returns the
    service's result, or None when it refused the input."""
    try:
        return call()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return None


# --- Organisations ----------------------------------------------------------------------


def home_figures(user: Reader) -> dict[str, Any]:
    """The home page's constituency figures and the viewer's own organisations;
    registered with core in `ConstituencyConfig.ready`."""
    return {
        "counts": {
            "organisations": Organisation.objects.visible_to(user).count(),
            "networks": NetworkClaim.objects.visible_to(user).count(),
            "users": User.objects.visible_to(user).count(),
        },
        "my_organisations": Organisation.objects.filter(pk__in=viewer_of(user).own_org_ids),
    }


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    form = OrganisationFilterForm(request.GET or None)
    orgs = Organisation.objects.visible_to(request.user).select_related("sector", "parent")
    if form.is_valid():
        data = form.cleaned_data
        orgs = selectors.filter_organisations(
            orgs, q=data["q"], kind=data["kind"], country=data["country"]
        )
        if data["sector"]:
            orgs = orgs.filter(sector=data["sector"])
    orgs = orgs.annotate(network_count=Count("networks", distinct=True)).order_by("name")
    page = Paginator(orgs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "constituency/organisation_list.html",
        {"form": form, "page": page, "can_create": can(request.user, "organisation.create")},
    )


def _supervisors(request: HttpRequest) -> Any:
    return Organisation.objects.visible_to(request.user).filter(kind__in=SUPERVISING_KINDS)


@login_required
def organisation_create(request: HttpRequest) -> HttpResponse:
    require(request.user, "organisation.create")
    form = OrganisationForm(request.POST or None, supervisors=_supervisors(request))
    if request.method == "POST" and form.is_valid():
        org = run_service(
            form, lambda: services.create_organisation(acting_user(request), **form.cleaned_data)
        )
        if org is not None:
            messages.success(request, _("Organisation %(name)s created.") % {"name": org.name})
            return redirect("organisation-detail", pk=org.pk)
    return render(request, "constituency/organisation_form.html", {"form": form})


@login_required
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    org = get_object_or_404(Organisation.objects.visible_to(request.user), pk=pk)
    require(request.user, "organisation.edit", org)
    form = OrganisationForm(
        request.POST or None,
        instance=org,
        supervisors=_supervisors(request),
        hierarchy=can(request.user, "constituency.manage"),
    )
    if request.method == "POST" and form.is_valid():
        fields = {f: form.cleaned_data[f] for f in form.changed_data}
        fresh = Organisation.objects.get(pk=pk)
        if run_service(
            form, lambda: services.update_organisation(acting_user(request), fresh, **fields)
        ):
            messages.success(request, _("Changes saved."))
            return redirect("organisation-detail", pk=pk)
    return render(request, "constituency/organisation_form.html", {"form": form, "org": org})


def _detail_context(request: HttpRequest, org: Organisation, **forms: Any) -> dict[str, Any]:
    viewer = viewer_of(request.user)
    claims = list(NetworkClaim.objects.visible_to(request.user).filter(organisation=org))
    overlapping = {c.pk for c in claims if selectors.overlaps_of(c)} if claims else set()
    return {
        "org": org,
        "claims": claims,
        "overlapping": overlapping,
        "contacts": Contact.objects.visible_to(request.user).filter(organisation=org),
        "memberships": Membership.objects.visible_to(request.user)
        .filter(organisation=org)
        .select_related("user"),
        "children": Organisation.objects.visible_to(request.user).filter(parent=org),
        "can_edit": can(request.user, "organisation.edit", org),
        "can_networks": can(request.user, "organisation.manage_networks", org),
        "can_contacts": can(request.user, "organisation.manage_contacts", org),
        "can_members": can(request.user, "membership.manage", org),
        "network_form": forms.get("network_form") or NetworkClaimForm(),
        "contact_form": forms.get("contact_form") or ContactForm(),
        "member_form": forms.get("member_form")
        or MembershipForm(roles=rules.roles_offered(viewer, org)),
        "invitations": Invitation.objects.visible_to(request.user)
        .filter(organisation=org, accepted_at__isnull=True)
        .select_related("invited_by"),
        "invite_form": forms.get("invite_form")
        or InvitationForm(roles=rules.roles_offered(viewer, org)),
    }


@login_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    org = get_object_or_404(
        Organisation.objects.visible_to(request.user).select_related("sector", "parent"), pk=pk
    )
    return render(request, "constituency/organisation_detail.html", _detail_context(request, org))


@login_required
@require_POST
def network_add(request: HttpRequest, pk: int) -> HttpResponse:
    org = get_object_or_404(Organisation.objects.visible_to(request.user), pk=pk)
    form = NetworkClaimForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        claim = run_service(
            form,
            lambda: services.add_network(
                acting_user(request), org, data["kind"], data["value"], data["note"]
            ),
        )
        if claim is not None:
            if selectors.overlaps_of(claim):
                messages.warning(
                    request,
                    _(
                        "%(value)s overlaps another organisation's claim; "
                        "the platform admins have been told."
                    )
                    % {"value": claim},
                )
            if request.headers.get("HX-Request"):
                context = _detail_context(request, org)
                return render(request, "constituency/_networks.html", context)
            return redirect("organisation-detail", pk=pk)
    context = _detail_context(request, org, network_form=form)
    template = (
        "constituency/_networks.html"
        if request.headers.get("HX-Request")
        else "constituency/organisation_detail.html"
    )
    return render(request, template, context, status=400)


@login_required
@require_POST
def network_remove(request: HttpRequest, pk: int, claim_pk: int) -> HttpResponse:
    claim = get_object_or_404(
        NetworkClaim.objects.visible_to(request.user), pk=claim_pk, organisation_id=pk
    )
    services.remove_network(acting_user(request), claim)
    messages.success(request, _("Removed %(value)s.") % {"value": claim})
    return redirect("organisation-detail", pk=pk)


@login_required
@require_POST
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    org = get_object_or_404(Organisation.objects.visible_to(request.user), pk=pk)
    form = ContactForm(request.POST)
    if form.is_valid() and run_service(
        form, lambda: services.add_contact(acting_user(request), org, **form.cleaned_data)
    ):
        return redirect("organisation-detail", pk=pk)
    context = _detail_context(request, org, contact_form=form)
    return render(request, "constituency/organisation_detail.html", context, status=400)


@login_required
@require_POST
def contact_remove(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    contact = get_object_or_404(
        Contact.objects.visible_to(request.user), pk=contact_pk, organisation_id=pk
    )
    services.remove_contact(acting_user(request), contact)
    return redirect("organisation-detail", pk=pk)


@login_required
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    org = get_object_or_404(Organisation.objects.visible_to(request.user), pk=pk)
    viewer = viewer_of(request.user)
    require(request.user, "membership.manage", org)
    form = MembershipForm(request.POST, roles=rules.roles_offered(viewer, org))
    if form.is_valid():
        user = User.objects.filter(username=form.cleaned_data["username"]).first()
        if user is None or not can(request.user, "user.attach", user):
            # One answer whether the username is unknown or belongs to someone the admin
            # may not attach (another organisation's user): nothing to probe.
            form.add_error(
                "username",
                _("No user with this username.")
                if viewer.manages_constituency
                else services.NEUTRAL_MEMBER_REFUSAL,
            )
        elif run_service(
            form,
            lambda: services.add_membership(
                acting_user(request), user, org, form.cleaned_data["role"]
            ),
        ):
            return redirect("organisation-detail", pk=pk)
    context = _detail_context(request, org, member_form=form)
    return render(request, "constituency/organisation_detail.html", context, status=400)


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.visible_to(request.user), pk=membership_pk, organisation_id=pk
    )
    services.remove_membership(acting_user(request), membership)
    return redirect("organisation-detail", pk=pk)


@login_required
@require_POST
def invitation_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite a person by e-mail (how organisation admins add new members)."""
    org = get_object_or_404(Organisation.objects.visible_to(request.user), pk=pk)
    viewer = viewer_of(request.user)
    require(request.user, "membership.manage", org)
    form = InvitationForm(request.POST, roles=rules.roles_offered(viewer, org))
    if form.is_valid():
        data = form.cleaned_data
        invitation = run_service(
            form,
            lambda: services.invite_member(
                acting_user(request),
                org,
                email=data["email"],
                role=data["role"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            ),
        )
        if invitation is not None:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect(reverse("organisation-detail", args=[pk]) + "#invitations")
    context = _detail_context(request, org, invite_form=form)
    return render(request, "constituency/organisation_detail.html", context, status=400)


def _invitation_action(
    request: HttpRequest, pk: int, invitation_pk: int, resend: bool
) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.visible_to(request.user), pk=invitation_pk, organisation_id=pk
    )
    try:
        if resend:
            services.resend_invitation(acting_user(request), invitation)
            messages.success(
                request, _("Invitation sent again to %(email)s.") % {"email": invitation.email}
            )
        else:
            services.revoke_invitation(acting_user(request), invitation)
            messages.success(
                request, _("Invitation to %(email)s withdrawn.") % {"email": invitation.email}
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("organisation-detail", args=[pk]) + "#invitations")


@login_required
@require_POST
def invitation_resend(request: HttpRequest, pk: int, invitation_pk: int) -> HttpResponse:
    return _invitation_action(request, pk, invitation_pk, resend=True)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int, invitation_pk: int) -> HttpResponse:
    return _invitation_action(request, pk, invitation_pk, resend=False)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation mail: choose a password (and, for an invitation by
    e-mail, a username), then enrol the authenticator app. A used, expired, withdrawn or
    unknown link is refused with the reason."""
    invitation = services.find_invitation(token)
    refusal = services.invitation_refusal(invitation)
    if refusal is not None:
        status = 404 if invitation is None else 410
        return render(
            request, "registration/invitation_accept.html", {"refusal": refusal}, status=status
        )
    assert invitation is not None
    form = InvitationAcceptForm(request.POST or None, ask_username=invitation.user is None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = run_service(
            form,
            lambda: services.accept_invitation(
                token, username=data.get("username"), password=data["new_password1"]
            ),
        )
        if user is not None:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Your password is set. Now set up your authenticator app."))
            return redirect("otp-setup")
        if form.non_field_errors() and services.invitation_refusal(services.find_invitation(token)):
            return render(
                request,
                "registration/invitation_accept.html",
                {"refusal": " ".join(str(e) for e in form.non_field_errors())},
                status=410,
            )
    return render(
        request,
        "registration/invitation_accept.html",
        {"form": form, "invitation": invitation},
        status=400 if form.errors else 200,
    )


@login_required
def network_overlaps(request: HttpRequest) -> HttpResponse:
    require(request.user, "constituency.manage")
    claims = list(NetworkClaim.objects.visible_to(request.user).select_related("organisation"))
    by_key = {(c.kind, c.value, c.organisation_id): c for c in claims}
    rows = [
        (
            by_key[(o.broader.kind, o.broader.value, o.broader.owner)],
            by_key[(o.narrower.kind, o.narrower.value, o.narrower.owner)],
            o.duplicate,
        )
        for o in networks.find_overlaps(c.as_claim() for c in claims)
    ]
    return render(request, "constituency/network_overlaps.html", {"rows": rows})


# --- Users ----------------------------------------------------------------------------


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.visible_to(request.user).prefetch_related("memberships__organisation")
    q = request.GET.get("q", "")[:100]
    if q:
        users = users.filter(
            Q(username__icontains=q) | Q(email__icontains=q) | Q(last_name__icontains=q)
        )
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    can_create = can(request.user, "user.manage")
    return render(
        request, "constituency/user_list.html", {"page": page, "q": q, "can_create": can_create}
    )


@login_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    shown = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    memberships = (
        Membership.objects.visible_to(request.user)
        .filter(user=shown)
        .select_related("organisation")
    )
    context = {
        "shown": shown,
        "memberships": memberships,
        "can_deactivate": can(request.user, "constituency.manage"),
        "can_reset_second_factor": can(request.user, "user.reset_second_factor", shown),
        "has_authenticator": services.has_authenticator(shown),
    }
    return render(request, "constituency/user_detail.html", context)


@login_required
@require_POST
def user_reset_second_factor(request: HttpRequest, pk: int) -> HttpResponse:
    shown = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    services.reset_second_factor(acting_user(request), shown)
    messages.success(
        request,
        _(
            "The second factor of %(name)s was reset; they were told by e-mail and set up "
            "a new authenticator at their next sign-in."
        )
        % {"name": shown.username},
    )
    return redirect("user-detail", pk=pk)


@login_required
@require_POST
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    shown = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    active = request.POST.get("active") == "1"
    if shown.pk == request.user.pk and not active:
        messages.error(request, _("You cannot deactivate yourself."))
    else:
        services.set_user_active(acting_user(request), shown, active)
        messages.success(request, _("Account activated.") if active else _("Account deactivated."))
    return redirect("user-detail", pk=pk)


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request.user)
    require(request.user, "user.manage")
    organisations = Organisation.objects.visible_to(request.user)
    if not viewer.manages_constituency:
        organisations = organisations.filter(
            pk__in=[o for o in viewer.roles if viewer.administers(o)]
        )
    form = UserCreateForm(
        request.POST or None, organisations=organisations, roles=rules.grantable_roles(viewer)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = run_service(
            form,
            lambda: services.create_user(
                acting_user(request),
                username=data["username"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                organisation=data["organisation"],
                role=data["role"],
            ),
        )
        if user is not None:
            messages.success(
                request,
                _(
                    "User %(name)s created. An invitation to choose a password was sent to "
                    "%(email)s."
                )
                % {"name": user.username, "email": user.email},
            )
            return redirect("user-detail", pk=user.pk)
    return render(request, "constituency/user_form.html", {"form": form})


# --- Account: second factor and API tokens ---------------------------------------------


def _next_page(request: HttpRequest) -> str:
    """Where the second factor leads: the page first asked for when it is on this site."""
    target = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe and target else reverse("home")


def _with_next(request: HttpRequest, name: str) -> str:
    target = request.GET.get("next", "")
    return reverse(name) + ("?" + urlencode({"next": target}) if target else "")


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not services.has_authenticator(user):
        return redirect(_with_next(request, "otp-setup"))
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.is_recovery_code:
        for recovery in StaticDevice.objects.devices_for_user(user, confirmed=True):
            if not recovery.verify_is_allowed()[0]:
                form.add_error("token", _("Too many wrong codes: wait a few seconds, then retry."))
                break
            if recovery.verify_token(form.cleaned_data["token"]):  # deletes the code: once
                request.session.cycle_key()
                otp_login(request, recovery)
                left = recovery.token_set.count()
                audit.record(user, "user.recovery_code_used", user, changes={"left": left})
                messages.warning(
                    request,
                    _(
                        "You signed in with a recovery code; %(left)d left. If you lost your "
                        "authenticator app, replace it under Account security."
                    )
                    % {"left": left},
                )
                return redirect(_next_page(request))
        else:
            form.add_error("token", _("That recovery code is not valid or was used already."))
    elif request.method == "POST" and form.is_valid():
        for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
            allowed, _details = device.verify_is_allowed()
            if not allowed:
                form.add_error("token", _("Too many wrong codes: wait a few seconds, then retry."))
                break
            if device.verify_token(form.cleaned_data["token"]):
                # A new session key with the raised privilege (session fixation): a key
                # learnt before the second factor must not become a verified session.
                request.session.cycle_key()
                otp_login(request, device)
                audit.record(user, "user.second_factor_verified", user)
                return redirect(_next_page(request))
        else:
            form.add_error(
                "token", _("That code is not valid. Check your device's clock and try again.")
            )
    return render(request, "registration/otp_verify.html", {"form": form})


@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    replacing = services.has_authenticator(user)
    if replacing and not user.is_verified():  # type: ignore[attr-defined]
        # Only a session that passed the current factor may replace it.
        return redirect(_with_next(request, "otp-verify"))
    device = services.start_authenticator(user)
    form = OTPTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not device.verify_is_allowed()[0]:
            form.add_error("token", _("Too many wrong codes: wait a few seconds, then retry."))
        elif device.verify_token(form.cleaned_data["token"]):
            new_codes = services.confirm_authenticator(user, device)
            request.session.cycle_key()  # as in otp_verify: no fixation across the factor
            otp_login(request, device)
            messages.success(request, _("Your authenticator app is set up."))
            if new_codes:
                # Shown straight away: the person writes them down before going on.
                return redirect(_with_next(request, "recovery-codes"))
            return redirect(_next_page(request))
        else:
            form.add_error("token", _("That code is not valid. Scan the code again and retry."))

    secret = base64.b32encode(device.bin_key).decode()
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4)
    return render(
        request,
        "registration/otp_setup.html",
        {"form": form, "secret": secret, "qr_svg": qr_svg, "replacing": replacing},
    )


def _verified_or_redirect(request: HttpRequest) -> HttpResponse | None:
    """Pages about the second factor need a session that passed it (when there is one)."""
    user: Any = request.user
    if services.has_authenticator(user) and not user.is_verified():
        return redirect(reverse("otp-verify") + "?" + urlencode({"next": request.get_full_path()}))
    return None


@login_required
def account_security(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if (answer := _verified_or_redirect(request)) is not None:
        return answer
    context = {
        "has_authenticator": services.has_authenticator(user),
        "code_count": len(services.recovery_codes(user)),
    }
    return render(request, "registration/account_security.html", context)


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Your recovery codes (each works once at sign-in instead of a six-digit code), and
    new ones on request."""
    user = acting_user(request)
    if not services.has_authenticator(user):
        return redirect(_with_next(request, "otp-setup"))
    if (answer := _verified_or_redirect(request)) is not None:
        return answer
    if request.method == "POST":
        codes = services.regenerate_recovery_codes(user)
        messages.success(request, _("New recovery codes made; the old ones no longer work."))
    else:
        codes = services.recovery_codes(user)
    target = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return render(
        request,
        "registration/recovery_codes.html",
        {"codes": codes, "next": target if safe and target else reverse("account-security")},
    )


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    allowed = rules.token_scopes(viewer_of(request.user))
    form = ApiTokenForm(request.POST or None, allowed=allowed)
    created_secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        result = run_service(
            form,
            lambda: services.create_api_token(
                acting_user(request),
                acting_user(request),
                name=data["name"],
                scopes=data["scopes"],
                days=data["days"],
            ),
        )
        if result is not None:
            created_secret = result[1]
            form = ApiTokenForm(allowed=allowed)
    tokens = ApiToken.objects.visible_to(request.user).filter(user=acting_user(request))
    return render(
        request,
        "constituency/token_list.html",
        {"form": form, "tokens": tokens, "created_secret": created_secret},
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.visible_to(request.user), pk=pk)
    services.revoke_api_token(acting_user(request), token)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("token-list")
