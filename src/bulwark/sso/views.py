"""Single-sign-on pages: starting a sign-in, the providers' answers, and the platform
admins' configuration pages. Writes go through `bulwark.sso.services`."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
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

SAML_REQUEST_LIFETIME = services.SAML_REQUEST_LIFETIME
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


REFUSAL_STATUS = {"unknown_provider": 404, "provider_unreachable": 502}


def _refused(request: HttpRequest, refusal: services.SignInRefused) -> HttpResponse:
    return render(
        request,
        "sso/refused.html",
        {"message": refusal.message, "reason": refusal.reason},
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


@require_GET
def oidc_callback(request: HttpRequest, slug: str) -> HttpResponse:
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
        user = services.sign_in(provider, issuer=issuer, subject=subject, claims=claims)
    except services.SignInRefused as refusal:
        return _refused(request, refusal)
    return _signed_in(request, user)


@csrf_exempt  # the identity provider posts here; the signed assertion is the proof
@require_POST
def saml_acs(request: HttpRequest, slug: str) -> HttpResponse:
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
        if not services.consume_saml_request(provider, assertion.in_response_to):
            raise services.refuse(
                provider,
                "invalid_response",
                issuer=assertion.issuer,
                subject=assertion.subject,
                detail="answers no pending request (replayed?)",
            )
        if assertion.subject_format == saml.TRANSIENT:
            raise services.refuse(
                provider, "transient_subject", issuer=assertion.issuer, subject=assertion.subject
            )
        user = services.sign_in(
            provider,
            issuer=assertion.issuer,
            subject=assertion.subject,
            claims=assertion.attributes,
        )
    except services.SignInRefused as refusal:
        return _refused(request, refusal)
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
