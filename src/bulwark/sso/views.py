"""Single-sign-on pages: starting a sign-in, the providers' answers, and the platform
admins' configuration pages. Writes go through `bulwark.sso.services`."""

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from bulwark.constituency.access import acting_user
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.views import run_service
from bulwark.core.permissions import require
from bulwark.sso import oidc, saml, selectors, services
from bulwark.sso.forms import ProviderForm, SignInNameForm
from bulwark.sso.models import IdentityProvider, SamlRequest
from bulwark.training import learner_auth
from bulwark.training.models import Learner

SAML_REQUEST_LIFETIME = services.SAML_REQUEST_LIFETIME
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


REFUSAL_STATUS = {"unknown_provider": 404, "provider_unreachable": 502}


def _refused(
    request: HttpRequest, refusal: services.SignInRefused, *, learner: bool = False
) -> HttpResponse:
    return render(
        request,
        "sso/refused.html",
        {"message": refusal.message, "reason": refusal.reason, "learner": learner},
        status=REFUSAL_STATUS.get(refusal.reason, 403),
    )


def _provider_or_refuse(slug: str) -> IdentityProvider:
    provider = IdentityProvider.objects.usable().select_related("organisation").filter(slug=slug)
    found = provider.first()
    if found is None:
        raise services.refuse(None, "unknown_provider", detail=slug[:100])
    return found


def _signed_in(request: HttpRequest, user: User) -> HttpResponse:
    auth_login(request, user, backend=MODEL_BACKEND)
    return redirect("home")


@require_GET
def choose(request: HttpRequest) -> HttpResponse:
    """Asks for the sign-in name; never lists the providers (that would list
    organisations to anyone)."""
    form = SignInNameForm(request.GET or None)
    if form.is_valid():
        return redirect("sso-login", slug=form.cleaned_data["slug"])
    return render(request, "sso/choose.html", {"form": form}, status=400 if form.errors else 200)


@require_GET
def login(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        provider = _provider_or_refuse(slug)
    except services.SignInRefused as refusal:
        return _refused(request, refusal)
    try:
        if provider.protocol == IdentityProvider.Protocol.OIDC:
            return oidc.start(request, provider)
        request_id, location = saml.start(provider)
    except Exception as exc:  # the provider is down or misconfigured
        return _refused(
            request, services.refuse(provider, "provider_unreachable", detail=str(exc)[:300])
        )
    services.remember_saml_request(provider, request_id)
    return redirect(location)


# --- Learners (training) ---------------------------------------------------------------
# A learner flow starts at /sso/<provider>/learner/ and comes back to the provider's one
# callback (OIDC) or ACS (SAML), which the identity provider already knows. What marks the
# answer as a learner's: the OIDC state, kept in the session under LEARNER_STATES when the
# flow starts; for SAML the pending request row (`SamlRequest.learner`). A learner flow
# signs a `Learner` in (`training.learner_auth`) and never a platform user; a staff flow
# never signs a learner in.

LEARNER_STATES = "_sso_learner_states"  # {OIDC state: the learner page to go back to}
LEARNER_PROVIDER = "_sso_learner_provider"  # the last provider a learner signed in with
LEARNER_HOME = "/training/learn/"


def _learner_next(raw: str, request: HttpRequest) -> str:
    """Only a learner page: a learner has nothing else to open."""
    if raw.startswith(LEARNER_HOME) and url_has_allowed_host_and_scheme(raw, {request.get_host()}):
        return raw[:500]
    return LEARNER_HOME


def learner_buttons(request: HttpRequest) -> list[tuple[str, str]]:
    """The training sign-in page's buttons (`learner_auth.SSO_BUTTONS`): the provider named
    by `?sso=<sign-in name>` (the link an agency gives its staff) and the one this browser
    last signed a learner in with. Never a list of every provider (that would list
    organisations to anyone)."""
    wanted = [request.GET.get("sso", ""), request.session.get(LEARNER_PROVIDER, "")]
    slugs = [s for s in wanted if isinstance(s, str) and s and len(s) <= 50]
    if not slugs:
        return []
    next_url = request.GET.get("next", "")
    query = f"?{urlencode({'next': next_url})}" if next_url.startswith(LEARNER_HOME) else ""
    found = IdentityProvider.objects.usable().filter(slug__in=slugs).order_by("name")
    return [(p.name, f"/sso/{p.slug}/learner/{query}") for p in found]


@require_GET
def learner_choose(request: HttpRequest) -> HttpResponse:
    """The training sign-in page's "your agency's sign-in name" form."""
    form = SignInNameForm(request.GET or None)
    if form.is_valid():
        query = urlencode({"next": _learner_next(request.GET.get("next", ""), request)})
        return redirect(f"/sso/{form.cleaned_data['slug']}/learner/?{query}")
    return render(
        request,
        "sso/refused.html",
        {"message": _("Enter the sign-in name your agency gave you."), "learner": True,
         "reason": "bad_name"},
        status=400,
    )  # fmt: skip


@require_GET
def learner_login(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        provider = _provider_or_refuse(slug)
    except services.SignInRefused as refusal:
        return _refused(request, refusal, learner=True)
    next_url = _learner_next(request.GET.get("next", ""), request)
    try:
        if provider.protocol == IdentityProvider.Protocol.OIDC:
            response = oidc.start(request, provider)
            state = parse_qs(urlsplit(response["Location"]).query).get("state", [""])[0]
            states = dict(request.session.get(LEARNER_STATES) or {})
            states[state] = next_url
            request.session[LEARNER_STATES] = dict(list(states.items())[-5:])
            return response
        request_id, location = saml.start(provider)
    except Exception as exc:  # the provider is down or misconfigured
        return _refused(
            request,
            services.refuse(provider, "provider_unreachable", detail=str(exc)[:300], learner=True),
            learner=True,
        )
    services.remember_saml_request(provider, request_id, learner=True, next_url=next_url)
    return redirect(location)


def _learner_signed_in(
    request: HttpRequest, provider: IdentityProvider, learner: Learner, next_url: str
) -> HttpResponse:
    learner_auth.sign_in(request, learner)
    request.session[LEARNER_PROVIDER] = provider.slug
    return redirect(_learner_next(next_url, request))


@require_GET
def oidc_callback(request: HttpRequest, slug: str) -> HttpResponse:
    states = dict(request.session.get(LEARNER_STATES) or {})
    state = request.GET.get("state", "")
    learner_flow = state in states
    if learner_flow:
        next_url = states.pop(state)
        request.session[LEARNER_STATES] = states
    try:
        provider = _provider_or_refuse(slug)
        if provider.protocol != IdentityProvider.Protocol.OIDC:
            raise services.refuse(provider, "invalid_response", detail="not an OIDC provider")
        try:
            issuer, subject, claims = oidc.finish(request, provider)
        except Exception as exc:  # bad state, code, signature, issuer...: all refusals
            raise services.refuse(
                provider, "invalid_response", detail=f"{type(exc).__name__}: {exc}"
            ) from None
        if learner_flow:
            learner = services.learner_sign_in(
                provider, issuer=issuer, subject=subject, claims=claims
            )
            return _learner_signed_in(request, provider, learner, next_url)
        user = services.sign_in(provider, issuer=issuer, subject=subject, claims=claims)
    except services.SignInRefused as refusal:
        return _refused(request, refusal, learner=learner_flow)
    return _signed_in(request, user)


@csrf_exempt  # the identity provider posts here; the signed assertion is the proof
@require_POST
def saml_acs(request: HttpRequest, slug: str) -> HttpResponse:
    learner_flow = False
    try:
        provider = _provider_or_refuse(slug)
        if provider.protocol != IdentityProvider.Protocol.SAML:
            raise services.refuse(provider, "invalid_response", detail="not a SAML provider")
        body = request.POST.get("SAMLResponse", "")
        if not body:
            raise services.refuse(provider, "invalid_response", detail="no SAMLResponse")
        fresh = timezone.now() - SAML_REQUEST_LIFETIME
        pending = list(
            SamlRequest.objects.filter(provider=provider, created_at__gte=fresh).values_list(
                "request_id", flat=True
            )
        )
        try:
            assertion = saml.finish(provider, body, pending)
        except ValueError as exc:
            raise services.refuse(provider, "invalid_response", detail=str(exc)) from None
        pending_request = services.consume_saml_request(provider, assertion.in_response_to)
        if pending_request is None:
            raise services.refuse(
                provider,
                "invalid_response",
                issuer=assertion.issuer,
                subject=assertion.subject,
                detail="answers no pending request (replayed?)",
            )
        learner_flow = pending_request.learner
        if assertion.subject_format == saml.TRANSIENT:
            raise services.refuse(
                provider,
                "transient_subject",
                issuer=assertion.issuer,
                subject=assertion.subject,
                learner=learner_flow,
            )
        if learner_flow:
            learner = services.learner_sign_in(
                provider,
                issuer=assertion.issuer,
                subject=assertion.subject,
                claims=assertion.attributes,
            )
            return _learner_signed_in(request, provider, learner, pending_request.next_url)
        user = services.sign_in(
            provider,
            issuer=assertion.issuer,
            subject=assertion.subject,
            claims=assertion.attributes,
        )
    except services.SignInRefused as refusal:
        return _refused(request, refusal, learner=learner_flow)
    return _signed_in(request, user)


@require_GET
def saml_metadata(request: HttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(IdentityProvider.objects.usable(), slug=slug)
    if provider.protocol != IdentityProvider.Protocol.SAML:
        return HttpResponse(_("This sign-in does not use SAML."), status=404)
    try:
        xml = saml.sp_metadata(provider.slug)
    except saml.MetadataError as exc:  # xmlsec1 missing: `bulwark check` says so too
        return HttpResponse(str(exc), status=503, content_type="text/plain")
    return HttpResponse(xml, content_type="application/samlmetadata+xml")


# --- Configuration (platform admins) ----------------------------------------------------


@login_required
def provider_list(request: HttpRequest) -> HttpResponse:
    require(request.user, "sso.manage")
    providers = selectors.providers(request.user)
    return render(request, "sso/provider_list.html", {"providers": providers})


def _form_page(request: HttpRequest, form: ProviderForm, provider: Any = None) -> HttpResponse:
    context: dict[str, Any] = {"form": form, "provider": provider}
    if provider is not None:
        context["redirect_uri"] = oidc.redirect_uri(provider.slug)
        context["acs_url"] = saml.acs_url(provider.slug)
        context["entity_id"] = saml.sp_entity_id(provider.slug)
    return render(
        request,
        "sso/provider_form.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


@login_required
def provider_create(request: HttpRequest) -> HttpResponse:
    require(request.user, "sso.manage")
    orgs = Organisation.objects.visible_to(request.user)
    form = ProviderForm(request.POST or None, organisations=orgs)
    if request.method == "POST" and form.is_valid():
        provider = run_service(
            form, lambda: services.create_provider(acting_user(request), **form.cleaned_data)
        )
        if provider is not None:
            messages.success(request, _("Identity provider %(name)s saved.") % {"name": provider})
            return redirect("sso-provider-edit", pk=provider.pk)
    return _form_page(request, form)


@login_required
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require(request.user, "sso.manage")
    provider = get_object_or_404(IdentityProvider.objects.visible_to(request.user), pk=pk)
    orgs = Organisation.objects.visible_to(request.user)
    form = ProviderForm(request.POST or None, instance=provider, organisations=orgs)
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in form.changed_data}
        fresh = IdentityProvider.objects.get(pk=pk)
        saved = run_service(
            form, lambda: services.update_provider(acting_user(request), fresh, **data)
        )
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("sso-provider-edit", pk=pk)
    return _form_page(request, form, provider)
