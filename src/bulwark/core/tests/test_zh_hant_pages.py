"""Every page of the demo in Traditional Chinese (issue 18): for each demo role, every page
the top navigation reaches (and the tabs on those pages), the public pages and the error
pages are rendered in zh-Hant, and the test fails on English that has a translation
(a message id of the catalogue shown as it is), on model choice labels that have none,
and on English table headers."""

import importlib
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from bulwark.conftest import sign_in
from bulwark.constituency import demo
from bulwark.constituency.models import User

ZH = "zh-hant"
# Words that are the same in both languages: names of standards, formats and protocols.
SAME_IN_BOTH = {
    "API", "CSAF", "CSV", "CVE", "CVSS", "DNS", "HTML", "ID", "IP", "JSON", "MISP", "PDF",
    "RSIT", "SMTP", "STIX", "TAXII", "TLP", "TOTP", "URL", "ASN", "CIDR", "MD5", "SHA-1",
    "SHA-256", "IPv4", "IPv6", "OIDC", "SAML", "X-ARF", "IODEF", "Zeek", "Suricata",
    "Markdown", "Bulwark", "English", "OpenID Connect", "STIX 2.1 bundle", "繁體中文", "OK",
    "L1", "L2", "L3", "L4", "RSS", "Atom",
    "TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED", "e-mail", "MSSP",
    "ISAC", "CERT", "CSIRT", "SOC", "NATS", "Redis", "Syslog", "HTTPS", "webhook", "AS",
}  # fmt: skip
# Fields whose labels are identifiers of formats, written the same in every language.
IDENTIFIER_FIELDS = {"exchange.Feed.format", "exchange.Report.format"}
SKIP_TAGS = {"script", "style", "code", "pre", "svg", "textarea", "option"}


class Texts(HTMLParser):
    """The page's visible text nodes (and labels read aloud), plus its table headers and
    the links of its top bar and tabs."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.headers: list[str] = []
        self.links: list[str] = []
        self._skip = 0
        self._in_th = 0
        self._nav = 0
        self._verbatim: list[str] = []  # open elements marked translate="no"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("translate") == "no":  # peers' and users' own words, kept as written
            self._verbatim.append(tag)
        if tag in SKIP_TAGS:
            self._skip += 1
        if tag == "th":
            self._in_th += 1
        if tag in ("header", "nav"):
            self._nav += 1
        if tag == "a" and self._nav and a.get("href", "").startswith(("/", "?")):
            self.links.append(a["href"])
        for name in ("aria-label", "title", "placeholder"):
            if a.get(name):
                self.texts.append(a[name].strip())

    def handle_endtag(self, tag: str) -> None:
        if self._verbatim and tag == self._verbatim[-1]:
            self._verbatim.pop()
        if tag in SKIP_TAGS and self._skip:
            self._skip -= 1
        if tag == "th" and self._in_th:
            self._in_th -= 1
        if tag in ("header", "nav") and self._nav:
            self._nav -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text or self._skip or self._verbatim:
            return
        self.texts.append(text)
        if self._in_th:
            self.headers.append(text)


def english_with_translation() -> set[str]:
    """Message ids whose zh-Hant translation differs from them."""
    catalog = translation.trans_real.translation(ZH)._catalog  # type: ignore[attr-defined]
    return {
        k
        for k, v in catalog.items()
        if isinstance(k, str) and v and v != k and re.search("[a-z]{2}", k) and "%" not in k
    }


def choice_labels_without_translation() -> dict[str, str]:
    """English choice labels of every model field that read the same in zh-Hant."""
    missing: dict[str, str] = {}
    for model in apps.get_models():
        if not model.__module__.startswith("bulwark."):
            continue
        for field in model._meta.get_fields():
            if f"{model._meta.label}.{field.name}" in IDENTIFIER_FIELDS:
                continue
            for _value, label in getattr(field, "flatchoices", None) or []:
                english = str(label)
                with translation.override(ZH):
                    chinese = str(label)
                if (
                    chinese == english
                    and english not in SAME_IN_BOTH
                    and re.search("[a-z]{3}", english)
                ):
                    missing[english] = f"{model._meta.label}.{field.name}"
    return missing


def problems_of(path: str, html: str, english: set[str]) -> list[str]:
    parsed = Texts()
    parsed.feed(html)
    found = []
    for text in parsed.texts:
        if text in english and text not in SAME_IN_BOTH:
            found.append(f"{path}: untranslated {text!r}")
    for header in parsed.headers:
        if re.fullmatch(r"[A-Za-z][A-Za-z ,()/%-]*", header) and header not in SAME_IN_BOTH:
            found.append(f"{path}: English table header {header!r}")
    return found


def links_of(html: str) -> list[str]:
    parsed = Texts()
    parsed.feed(html)
    return parsed.links


@pytest.fixture
def demo_site(db: Any) -> list[str]:
    accounts = demo.load()
    for app in ("incidents", "intel", "exchange", "monitoring", "advisories", "analytics"):
        try:
            importlib.import_module(f"bulwark.{app}.demo").load()
        except ModuleNotFoundError:
            continue
    return [a.username for a in accounts]


def chinese(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = ZH
    return client


def test_every_model_choice_has_a_translation(db: Any) -> None:
    assert choice_labels_without_translation() == {}


def test_every_demo_page_reads_in_traditional_chinese(demo_site: list[str]) -> None:
    english = english_with_translation() | set(choice_labels_without_translation())
    problems: list[str] = []
    visited = 0
    skip = ("/accounts/logout/", "/api/", "/static/", "/intel/exports/")
    for username in demo_site:
        client = chinese(sign_in(Client(), User.objects.get(username=username)))
        queue, seen = ["/"], set()
        while queue:
            path = queue.pop(0)
            if path in seen or path.startswith(skip) or len(seen) > 150:
                continue
            seen.add(path)
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            html = response.content.decode()
            visited += 1
            problems += problems_of(f"{username} {path}", html, english)
            # What the page fetches once shown (statistics panels and charts: hx-get).
            fragments = re.findall(r'hx-get="([^"]+)"', html)
            while fragments:
                url = fragments.pop(0).replace("&amp;", "&")
                if not url.startswith("/") or url in seen:
                    continue
                seen.add(url)
                part = client.get(url)
                if part.status_code == 200:
                    body = part.content.decode()
                    problems += problems_of(f"{username} {url}", body, english)
                    fragments += re.findall(r'hx-get="([^"]+)"', body)
            # The top bar from the home page; tabs (?group=...) one level below it.
            for link in links_of(html):
                link = urljoin(path, link)
                target = urlsplit(link)
                if path == "/" or (target.path == urlsplit(path).path and target.query):
                    queue.append(link)
    anonymous = chinese(Client())
    public = ["/accounts/login/", "/accounts/password-reset/", "/publications/"]
    listing = anonymous.get("/publications/").content.decode()
    public += re.findall(r'href="(/publications/[^"/]+/)"', listing)[:2]
    for path in public:
        response = anonymous.get(path)
        assert response.status_code == 200, path
        visited += 1
        problems += problems_of(f"anonymous {path}", response.content.decode(), english)
    # Error pages: not found, forbidden, an expired form, and the server error page.
    reporter = chinese(sign_in(Client(), User.objects.get(username="reporter")))
    errors = {
        "404": anonymous.get("/no-such-page/"),
        "403": reporter.get("/audit/"),
        "403 csrf": chinese(Client(enforce_csrf_checks=True)).post("/accounts/login/"),
    }
    for name, response in errors.items():
        assert response.status_code == int(name[:3]), name
        problems += problems_of(name, response.content.decode(), english)
    with translation.override(ZH):
        problems += problems_of("500", render_to_string("500.html"), english)
    assert visited > 60
    assert not problems, "\n".join(sorted(set(problems)))
