"""Real identity providers for the tests, each a WSGI server on a local port.

OpenID Connect: pyop (IdentityPython's OP library, on pyoidc). SAML 2.0: pysaml2's IdP
(`saml2.server.Server`) with a key and certificate generated for the test. They answer
over real HTTP: the platform fetches discovery, JWKS, tokens and userinfo from them
itself, and the test carries the browser's redirects between the two.
"""

import datetime
import html
import ipaddress
import json
import re
import shutil
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

Start = Callable[[str, list[tuple[str, str]]], Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server:
    """A WSGI server on a free local port; with `tls_dir`, HTTPS with a certificate for
    127.0.0.1 written there (`self.ca_file`: point REQUESTS_CA_BUNDLE at it)."""

    def __init__(self, tls_dir: Path | None = None) -> None:
        self.httpd: WSGIServer = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        scheme = "http"
        if tls_dir is not None:
            key, self.ca_file = key_and_certificate(tls_dir, "localhost-tls", ip="127.0.0.1")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def app(self, environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        raise NotImplementedError

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(start: Start, status: str, body: Any, content_type: str = "application/json") -> list:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class OidcProvider(_Server):
    """pyop's Provider behind the standard endpoints. `users` maps a login name to its
    claims (`sub` fixes the subject); `signed_in` is whoever the IdP authenticates next."""

    def __init__(
        self, tls_dir: Path, redirect_uri: str, client_id: str, client_secret: str
    ) -> None:
        super().__init__(tls_dir)  # OIDC requires an https issuer
        from Cryptodome.PublicKey import RSA
        from jwkest.jwk import RSAKey
        from pyop.authz_state import AuthorizationState
        from pyop.provider import Provider
        from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
        from pyop.userinfo import Userinfo

        self.issuer = self.base
        self.users: dict[str, dict[str, Any]] = {}
        self.signed_in = ""
        config = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token",
            "jwks_uri": f"{self.base}/jwks",
            "userinfo_endpoint": f"{self.base}/userinfo",
            "scopes_supported": ["openid", "email", "profile"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }
        clients = {
            client_id: {
                "client_secret": client_secret,
                "redirect_uris": [redirect_uri],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        }
        key = RSAKey(key=RSA.generate(2048), alg="RS256", kid="test-op")
        self.provider = Provider(
            key,
            config,
            AuthorizationState(HashBasedSubjectIdentifierFactory("test-salt")),
            clients,
            Userinfo(self.users),
        )

    def _id_token_claims(self, user_id: str, client_id: str) -> dict[str, Any]:
        claims = self.users[user_id]
        return {k: v for k, v in claims.items() if k not in {"sub"}}

    def app(self, environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        from pyop.util import should_fragment_encode

        path = environ["PATH_INFO"]
        query = environ.get("QUERY_STRING", "")
        headers = {"Authorization": environ.get("HTTP_AUTHORIZATION", "")}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        try:
            if path == "/.well-known/openid-configuration":
                return _reply(start, "200 OK", self.provider.provider_configuration.to_dict())
            if path == "/jwks":
                return _reply(start, "200 OK", self.provider.jwks)
            if path == "/authorize":
                request = self.provider.parse_authentication_request(query, headers)
                response = self.provider.authorize(
                    request, self.signed_in, extra_id_token_claims=self._id_token_claims
                )
                location = response.request(
                    request["redirect_uri"], should_fragment_encode(request)
                )
                start("303 See Other", [("Location", location), ("Content-Length", "0")])
                return [b""]
            if path == "/token":
                token = self.provider.handle_token_request(
                    body, headers, extra_id_token_claims=self._id_token_claims
                )
                return _reply(start, "200 OK", token.to_dict())
            if path == "/userinfo":
                info = self.provider.handle_userinfo_request(body or query, headers)
                return _reply(start, "200 OK", info.to_dict())
        except Exception as exc:
            return _reply(start, "400 Bad Request", {"error": type(exc).__name__, "d": str(exc)})
        return _reply(start, "404 Not Found", {"error": "not_found"})


def key_and_certificate(directory: Path, name: str, ip: str = "") -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    key_path = directory / f"{name}.key"
    cert_path = directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SamlIdentityProvider(_Server):
    """pysaml2's IdP. `users` maps a login name to {"subject": NameID, "attributes":
    {name: [values]}}; `signed_in` is whoever the IdP authenticates next. The answer is
    the HTML form a browser would auto-post to the platform."""

    def __init__(self, directory: Path, sp_metadata: str) -> None:
        super().__init__()
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT
        from saml2.server import Server

        key, cert = key_and_certificate(directory, "test-idp")
        self.entity_id = f"{self.base}/metadata"
        self.users: dict[str, dict[str, Any]] = {}
        self.signed_in = ""
        self.sign_assertion = self.sign_response = True
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "name": "Test IdP",
                        "endpoints": {
                            "single_sign_on_service": [
                                (f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)
                            ]
                        },
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 15},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_BASIC,
                            }
                        },
                    }
                },
                "key_file": str(key),
                "cert_file": str(cert),
                "metadata": {"inline": [sp_metadata]},
                "xmlsec_binary": shutil.which("xmlsec1"),
            }
        )
        self.config = config
        self.server = Server(config=config)

    def metadata(self) -> str:
        from saml2.metadata import create_metadata_string

        return create_metadata_string(None, config=self.config, valid=24).decode()

    def app(self, environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

        if environ["PATH_INFO"] == "/metadata":
            return _reply(start, "200 OK", self.metadata().encode(), "application/xml")
        if environ["PATH_INFO"] != "/sso/redirect":
            return _reply(start, "404 Not Found", {"error": "not_found"})
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        request = self.server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        authn_request = request.message
        sp = authn_request.issuer.text
        destination = authn_request.assertion_consumer_service_url
        user = self.users[self.signed_in]
        response = self.server.create_authn_response(
            identity=user["attributes"],
            in_response_to=authn_request.id,
            destination=destination,
            sp_entity_id=sp,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=user["subject"]),
            authn={
                "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "authn_auth": self.entity_id,
            },
            sign_assertion=self.sign_assertion,
            sign_response=self.sign_response,
        )
        http = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), destination, query.get("RelayState", ""),
            response=True,
        )  # fmt: skip
        return _reply(start, "200 OK", http["data"].encode(), "text/html")


def posted_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the auto-posting form an IdP answers with."""
    action = re.search(r'<form[^>]+action="([^"]+)"', page)
    assert action, page[:500]
    fields = dict(re.findall(r'<input[^>]+name="([^"]+)"[^>]+value="([^"]*)"', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}
