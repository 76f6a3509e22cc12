"""OpenID Connect relying party, one per organisation's identity provider (Authlib).

Authlib reads the provider's discovery document, sends the browser with state, nonce and
PKCE, exchanges the code (client_secret_basic) and checks the ID token's signature (JWKS),
issuer, audience, expiry and nonce. The issuer must also equal the configured one, so a
discovery document cannot substitute another issuer.
"""

from typing import Any

from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from bulwark.sso.models import IdentityProvider

HTTP_TIMEOUT = 10


def redirect_uri(slug: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/sso/{slug}/oidc/callback/"


def _client(provider: IdentityProvider) -> Any:
    issuer = provider.issuer.rstrip("/")
    return OAuth().register(
        name=f"sso_{provider.slug}",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT,
        },
    )


def start(request: HttpRequest, provider: IdentityProvider) -> HttpResponse:
    """Redirect to the provider; state, nonce and PKCE verifier stay in the session."""
    response: HttpResponse = _client(provider).authorize_redirect(
        request, redirect_uri(provider.slug)
    )
    return response


def finish(request: HttpRequest, provider: IdentityProvider) -> tuple[str, str, dict[str, Any]]:
    """(issuer, subject, claims) of a verified sign-in; raises on anything unverified."""
    client = _client(provider)
    metadata = client.load_server_metadata()
    if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
        raise ValueError(f"discovery names issuer {metadata.get('issuer')!r}")
    token = client.authorize_access_token(
        request, claims_options={"iss": {"essential": True, "values": [metadata["issuer"]]}}
    )
    id_claims = token.get("userinfo")
    if not id_claims or not id_claims.get("sub"):
        raise ValueError("the provider returned no verified ID token")
    claims: dict[str, Any] = dict(id_claims)
    if metadata.get("userinfo_endpoint"):
        extra = dict(client.userinfo(token=token))
        if extra.get("sub") == claims["sub"]:  # OIDC Core 5.3.2: must match, else ignore
            for key, value in extra.items():
                claims.setdefault(key, value)
    return str(claims["iss"]), str(claims["sub"]), claims
