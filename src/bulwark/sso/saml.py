"""SAML 2.0 service provider, one per organisation's identity provider (pysaml2).

pysaml2 checks the response's signature with the xmlsec1 program (Debian: `xmlsec1`),
its audience, destination, validity window and that it answers a request we sent.
"""

import shutil
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT

from bulwark.sso.models import IdentityProvider

METADATA_TIMEOUT = 10
MAX_METADATA_BYTES = 500_000


class MetadataError(ValueError):
    pass


@dataclass(frozen=True)
class Assertion:
    issuer: str
    subject: str
    subject_format: str
    attributes: dict[str, list[str]]
    in_response_to: str


def xmlsec_binary() -> str:
    found = shutil.which("xmlsec1")
    if not found:
        raise MetadataError(_("SAML needs the xmlsec1 program (Debian: apt-get install xmlsec1)."))
    return found


def _base(provider_slug: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/sso/{provider_slug}/saml"


def sp_entity_id(slug: str) -> str:
    return f"{_base(slug)}/metadata/"


def acs_url(slug: str) -> str:
    return f"{_base(slug)}/acs/"


def _config(slug: str, idp_metadata: str | None) -> SPConfig:
    conf: dict[str, Any] = {
        "entityid": sp_entity_id(slug),
        "service": {
            "sp": {
                "name": "Bulwark",
                "endpoints": {"assertion_consumer_service": [(acs_url(slug), BINDING_HTTP_POST)]},
                "allow_unsolicited": False,
                "authn_requests_signed": False,
                # Either the assertion or the whole response must carry the IdP's
                # signature (ADFS and Entra sign the assertion, Keycloak the response).
                "want_assertions_or_response_signed": True,
                "want_assertions_signed": False,
                "want_response_signed": False,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "name_id_format_allow_create": True,
            }
        },
        "xmlsec_binary": xmlsec_binary(),
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
    }
    if idp_metadata:
        conf["metadata"] = {"inline": [idp_metadata]}
    config = SPConfig()
    config.load(conf)
    return config


def sp_metadata(slug: str) -> str:
    """Our metadata for the identity provider's administrators."""
    xml = create_metadata_string(None, config=_config(slug, None), valid=24 * 14)
    return xml.decode() if isinstance(xml, bytes) else str(xml)


def load_idp_metadata(xml: str, url: str) -> tuple[str, str]:
    """The identity provider's metadata (fetched when only a URL is given) and its
    entity id. Refuses metadata that does not describe exactly one identity provider."""
    if not xml.strip() and url:
        try:
            response = requests.get(url, timeout=METADATA_TIMEOUT, stream=True)
            response.raise_for_status()
            body = response.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
        except (requests.RequestException, OSError) as exc:
            raise MetadataError(
                _("The metadata could not be fetched from %(url)s: %(error)s")
                % {"url": url, "error": exc}
            ) from None
        if len(body) > MAX_METADATA_BYTES:
            raise MetadataError(_("The metadata is larger than 500 kB."))
        xml = body.decode("utf-8", errors="replace")
    if not xml.strip():
        raise MetadataError(_("SAML needs the identity provider's metadata (XML or URL)."))
    try:
        config = _config("check", xml)
        idps = list(Saml2Client(config).metadata.identity_providers())
    except MetadataError:
        raise
    except Exception as exc:  # pysaml2 raises many kinds for bad XML
        raise MetadataError(
            _("This is not SAML metadata pysaml2 can read: %(error)s") % {"error": exc}
        ) from None
    if len(idps) != 1:
        raise MetadataError(
            _("The metadata must describe exactly one identity provider (found %(n)d).")
            % {"n": len(idps)}
        )
    return xml, str(idps[0])


def start(provider: IdentityProvider) -> tuple[str, str]:
    """An AuthnRequest: (request id, URL to send the browser to)."""
    client = Saml2Client(_config(provider.slug, provider.metadata_xml))
    request_id, info = client.prepare_for_authenticate(
        entityid=provider.issuer, binding=BINDING_HTTP_REDIRECT
    )
    location = dict(info["headers"])["Location"]
    return str(request_id), str(location)


def finish(provider: IdentityProvider, saml_response: str, outstanding: list[str]) -> Assertion:
    """The verified assertion, or ValueError saying why it is refused."""
    client = Saml2Client(_config(provider.slug, provider.metadata_xml))
    try:
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={rid: "" for rid in outstanding}
        )
    except Exception as exc:  # signature, audience, time, unsolicited...: all refusals
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    if response is None:
        raise ValueError("no response")
    name_id = response.name_id
    if name_id is None or not name_id.text:
        raise ValueError("no NameID")
    return Assertion(
        issuer=str(response.issuer()),
        subject=str(name_id.text),
        subject_format=str(name_id.format or ""),
        attributes={str(k): [str(v) for v in vs] for k, vs in response.get_identity().items()},
        in_response_to=str(response.in_response_to or ""),
    )


TRANSIENT = NAMEID_FORMAT_TRANSIENT
