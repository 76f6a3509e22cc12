"""Public publications: security alerts, news and guidelines, TLP:CLEAR only, without
signing in, in English and Traditional Chinese; RSS 2.0, Atom and JSON Feed; CSAF 2.0.

Every query here starts from `Advisory.objects.visible_to(AnonymousUser())`, which is
exactly the public set: a non-CLEAR advisory can never reach these paths.

The feeds and CSAF documents are the same bytes for everyone, so each is rendered once per
process and kept in Django's cache under a key that includes the public set's state (how
many publications, when the newest change was saved): publishing, revising or withdrawing
a publication changes that state, so the next request renders afresh in every process
without anyone having to invalidate anything. The same state is the response's ETag and
Last-Modified, so a feed reader that asks again with If-None-Match / If-Modified-Since gets
304 without a body (docs/advisories.md).

The CSAF provider's files (`/.well-known/csaf/...`, built in `provider.py`) are served the
same way; a document's hashes and signature are made of the very bytes its URL serves."""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import feedgenerator, translation
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.http import http_date
from django.utils.translation import gettext as _

from bulwark.advisories import csaf, provider, signing
from bulwark.advisories.csaf import last_change, sent_at
from bulwark.advisories.models import Advisory, AdvisoryQuerySet, Publication
from bulwark.advisories.rendering import markdown_to_html

FEED_ITEMS = 50
JSON = "application/json"  # exactly this: csaf_checker refuses a charset parameter
TEXT = "text/plain; charset=utf-8"
LANGUAGES = {code for code, _name in settings.LANGUAGES}
# A rendered feed stays in the cache at most this long; its key changes with every change
# of the public set, so this only bounds memory and anything the key does not see (a
# category's label).
RENDERED_SECONDS = 600
# How long a feed reader or proxy may reuse a response without asking again.
BROWSER_MAX_AGE = 60


def public_advisories() -> AdvisoryQuerySet:
    return Advisory.objects.visible_to(AnonymousUser()).select_related("category")


def _language(request: HttpRequest) -> str:
    asked = str(request.GET.get("lang", "")).lower()
    return asked if asked in LANGUAGES else (translation.get_language() or "en")


def _kind(request: HttpRequest) -> str:
    kind = str(request.GET.get("kind", ""))
    return kind if kind in {c.value for c in Publication if c.value} else ""


def _feed_links(language: str, kind: str) -> list[dict[str, str]]:
    query = f"?lang={language}" + (f"&kind={kind}" if kind else "")
    return [
        {
            "type": "application/rss+xml",
            "title": "RSS 2.0",
            "href": reverse("publication-rss") + query,
        },
        {
            "type": "application/atom+xml",
            "title": "Atom",
            "href": reverse("publication-atom") + query,
        },
        {
            "type": "application/feed+json",
            "title": "JSON Feed",
            "href": reverse("publication-json") + query,
        },
    ]


def publication_list(request: HttpRequest) -> HttpResponse:
    language, kind = _language(request), _kind(request)
    items = public_advisories()
    if kind:
        items = items.filter(publication=kind)
    page = Paginator(items, 30).get_page(request.GET.get("page"))
    with translation.override(language):
        rows = [(a, a.localised("title", language), a.localised("summary", language)) for a in page]
        return render(
            request,
            "advisories/public_list.html",
            {
                "page": page,
                "rows": rows,
                "kind": kind,
                "kinds": Publication.choices[1:],
                "feeds": _feed_links(language, kind),
                "language": language,
            },
        )


def publication_detail(request: HttpRequest, reference: str) -> HttpResponse:
    language = _language(request)
    advisory = get_object_or_404(public_advisories(), reference=reference)
    with translation.override(language):
        return render(
            request,
            "advisories/public_detail.html",
            {
                "advisory": advisory,
                "title": advisory.localised("title", language),
                "summary": advisory.localised("summary", language),
                "body_html": markdown_to_html(advisory.localised("body", language)),
                "actions_html": markdown_to_html(
                    advisory.localised("recommended_actions", language)
                ),
                "revisions": advisory.revisions.published().order_by("number"),
                "feeds": _feed_links(language, ""),
                "language": language,
                "csaf_url": reverse("publication-csaf", args=[advisory.reference])
                + f"?lang={language}",
            },
        )


def _public_state() -> tuple[int, datetime | None]:
    """What every feed depends on, in one indexed query: the number of publications and
    the newest save of one (sending, an approved revision and any edit all save it)."""
    row = public_advisories().aggregate(count=Count("pk"), changed=Max("updated_at"))
    return int(row["count"]), row["changed"]


def _shared_response(
    request: HttpRequest,
    what: tuple[Any, ...],
    changed: datetime | None,
    render: Callable[[], HttpResponse],
) -> HttpResponse:
    """One rendered copy for everyone, answered 304 when the reader already has it.

    `what` names the representation and the state it was rendered from; the site's URL and
    name are part of it because they are written into every feed."""
    key = repr((*what, settings.SITE_URL, settings.CERT_NAME))
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    etag = f'"{digest}"'
    modified = int(changed.timestamp()) if changed else None
    response = get_conditional_response(request, etag=etag, last_modified=modified)
    if response is None:
        cached = cache.get(f"publications:{digest}")
        if cached is None:
            rendered = render()
            cached = (rendered.content, rendered["Content-Type"], dict(rendered.items()))
            cache.set(f"publications:{digest}", cached, RENDERED_SECONDS)
        content, content_type, headers = cached
        response = HttpResponse(content, content_type=content_type)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
    if request.method in ("GET", "HEAD"):
        response["ETag"] = etag
        if modified is not None:
            response["Last-Modified"] = http_date(modified)
        patch_cache_control(response, public=True, max_age=BROWSER_MAX_AGE)
    return response


def publication_csaf(request: HttpRequest, reference: str) -> HttpResponse:
    advisory = get_object_or_404(public_advisories(), reference=reference)
    language = _language(request)

    def render() -> HttpResponse:
        response = HttpResponse(csaf.render(advisory, language), content_type=JSON)
        response["Content-Disposition"] = f'inline; filename="{csaf.filename(reference)}"'
        return response

    what = ("csaf", advisory.pk, advisory.updated_at.isoformat(), language)
    return _shared_response(request, what, advisory.updated_at, render)


def _items(language: str, kind: str) -> list[Advisory]:
    items = public_advisories()
    if kind:
        items = items.filter(publication=kind)
    return list(items[:FEED_ITEMS])


def _feed_url(name: str, language: str, kind: str) -> str:
    """The feed's own address as the feed states it: the canonical query, never the
    request's own (one cached copy serves every reader, whatever else they appended)."""
    return (
        settings.SITE_URL + reverse(name) + f"?lang={language}" + (f"&kind={kind}" if kind else "")
    )


def _cached_feed(
    request: HttpRequest, name: str, render: Callable[[str, str], HttpResponse]
) -> HttpResponse:
    language, kind = _language(request), _kind(request)
    count, changed = _public_state()
    what = (name, language, kind, count, changed.isoformat() if changed else "")
    response = _shared_response(request, what, changed, lambda: render(language, kind))
    if "lang" not in request.GET:
        # The language came from the reader's cookie or Accept-Language header.
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


def _feed(
    generator: type[feedgenerator.SyndicationFeed], name: str, language: str, kind: str
) -> HttpResponse:
    items = _items(language, kind)
    site = settings.SITE_URL
    with translation.override(language):
        feed = generator(
            title=_("%(cert)s security publications") % {"cert": settings.CERT_NAME},
            link=site + reverse("publication-list"),
            description=_("Security alerts, news and guidelines (TLP:CLEAR)."),
            language=language,
            feed_url=_feed_url(name, language, kind),
        )
        for advisory in items:
            updated = last_change(advisory)
            body = advisory.localised("body", language)
            feed.add_item(
                title=advisory.localised("title", language),
                link=site + reverse("publication-detail", args=[advisory.reference]),
                description=markdown_to_html(
                    advisory.localised("summary", language) + "\n\n" + body
                ),
                unique_id=site + reverse("publication-detail", args=[advisory.reference]),
                pubdate=sent_at(advisory),
                updateddate=updated,
                categories=[advisory.get_publication_display(), advisory.category.label(language)],
            )
        content = feed.writeString("utf-8")
    return HttpResponse(content, content_type=getattr(feed, "content_type", "application/xml"))


def feed_rss(request: HttpRequest) -> HttpResponse:
    return _cached_feed(
        request,
        "publication-rss",
        lambda language, kind: _feed(
            feedgenerator.Rss201rev2Feed, "publication-rss", language, kind
        ),
    )


def feed_atom(request: HttpRequest) -> HttpResponse:
    return _cached_feed(
        request,
        "publication-atom",
        lambda language, kind: _feed(feedgenerator.Atom1Feed, "publication-atom", language, kind),
    )


def feed_json(request: HttpRequest) -> HttpResponse:
    return _cached_feed(request, "publication-json", _json_feed)


def warm_feeds() -> int:
    """Render the three feeds once per language into the cache, as a reader asking for
    them would (`?lang=`). gunicorn runs this before it forks its workers
    (`gunicorn_conf.when_ready`), so each worker starts with them: rendering one costs
    160-185 ms, and 100 readers arriving at a fresh worker queued behind those renders
    (docs/operations.md, "Capacity"). Returns how many were rendered."""
    from django.test import RequestFactory  # a request without a server or a host check

    factory = RequestFactory()
    rendered = 0
    for language in sorted(LANGUAGES):
        for view in (feed_rss, feed_atom, feed_json):
            view(factory.get("/", {"lang": language}))
            rendered += 1
    return rendered


def _json_feed(language: str, kind: str) -> HttpResponse:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    items = _items(language, kind)
    site = settings.SITE_URL
    with translation.override(language):
        entries: list[dict[str, Any]] = []
        for advisory in items:
            url = site + reverse("publication-detail", args=[advisory.reference])
            updated = last_change(advisory)
            entries.append(
                {
                    "id": url,
                    "url": url,
                    "title": advisory.localised("title", language),
                    "summary": advisory.localised("summary", language),
                    "content_html": markdown_to_html(advisory.localised("body", language)),
                    "date_published": sent_at(advisory).isoformat(),
                    "date_modified": updated.isoformat(),
                    "tags": [advisory.publication, advisory.category.code],
                    "attachments": [
                        {
                            "url": site + reverse("publication-csaf", args=[advisory.reference]),
                            "mime_type": "application/json",
                            "title": "CSAF 2.0",
                        }
                    ],
                }
            )
        body = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": _("%(cert)s security publications") % {"cert": settings.CERT_NAME},
            "home_page_url": site + reverse("publication-list"),
            "feed_url": _feed_url("publication-json", language, kind),
            "language": language,
            "items": entries,
        }
    return JsonResponse(
        body, content_type="application/feed+json", json_dumps_params={"ensure_ascii": False}
    )


# --------------------------------------------------------------------------- CSAF provider


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()


def _provider_file(
    request: HttpRequest,
    name: str,
    content_type: str,
    build: Callable[[list[Advisory]], str | bytes],
) -> HttpResponse:
    """A file that lists the public set: rendered once per state of the set (and of the
    signing key, which decides whether signatures are announced)."""
    count, changed = _public_state()
    what = (name, count, changed.isoformat() if changed else "", signing.signing_key() or "")

    def render() -> HttpResponse:
        return HttpResponse(build(list(public_advisories())), content_type=content_type)

    return _shared_response(request, what, changed, render)


def csaf_provider_metadata(request: HttpRequest) -> HttpResponse:
    return _provider_file(
        request, "provider-metadata", JSON, lambda a: _json(provider.provider_metadata(a))
    )


def csaf_rolie_service(request: HttpRequest) -> HttpResponse:
    return _provider_file(request, "rolie-service", JSON, lambda a: _json(provider.rolie_service()))


def csaf_rolie_category(request: HttpRequest) -> HttpResponse:
    return _provider_file(
        request, "rolie-category", JSON, lambda a: _json(provider.rolie_category(a))
    )


def csaf_rolie_feed(request: HttpRequest) -> HttpResponse:
    return _provider_file(request, "rolie-feed", JSON, lambda a: _json(provider.rolie_feed(a)))


def csaf_index(request: HttpRequest) -> HttpResponse:
    return _provider_file(request, "index.txt", TEXT, provider.index_txt)


def csaf_changes(request: HttpRequest) -> HttpResponse:
    return _provider_file(request, "changes.csv", "text/csv; charset=utf-8", provider.changes_csv)


def csaf_directory(request: HttpRequest) -> HttpResponse:
    def build(advisories: list[Advisory]) -> str:
        years = sorted({f"{csaf.folder_year(a)}/" for a in advisories})
        files = ["index.txt", "changes.csv", "csaf-feed-tlp-white.json", "category-white.json"]
        return provider.listing("/.well-known/csaf/white/", [*years, *files])

    return _provider_file(request, "directory", "text/html; charset=utf-8", build)


def csaf_year(request: HttpRequest, year: str) -> HttpResponse:
    def build(advisories: list[Advisory]) -> str:
        names = sorted(
            csaf.filename(a.reference) for a in advisories if csaf.folder_year(a) == int(year)
        )
        suffixes = ["", ".sha256", ".sha512"] + ([".asc"] if signing.signing_key() else [])
        return provider.listing(
            f"/.well-known/csaf/white/{year}/", [n + s for n in names for s in suffixes]
        )

    if not any(csaf.folder_year(a) == int(year) for a in public_advisories()):
        raise Http404("no CSAF document of that year")
    return _provider_file(request, f"year-{year}", "text/html; charset=utf-8", build)


def _published(year: str, name: str) -> Advisory:
    advisory = provider.find(public_advisories(), int(year), name)
    if advisory is None:
        raise Http404("no such CSAF document")
    return advisory


def csaf_document(request: HttpRequest, year: str, name: str) -> HttpResponse:
    advisory = _published(year, name)
    what = ("csaf-document", advisory.pk, advisory.updated_at.isoformat())
    return _shared_response(
        request,
        what,
        advisory.updated_at,
        lambda: HttpResponse(csaf.render(advisory), content_type=JSON),
    )


def csaf_document_file(request: HttpRequest, year: str, name: str, kind: str) -> HttpResponse:
    """`<file>.sha256`, `.sha512` (section 7.1.18) and `.asc` (7.1.19) of the document."""
    advisory = _published(year, name)
    fingerprint = signing.signing_key()
    if kind == "asc" and fingerprint is None:
        raise Http404("the documents are not signed")

    def render() -> HttpResponse:
        data = csaf.render(advisory)
        if kind == "asc":
            return HttpResponse(signing.sign(data), content_type="application/pgp-signature")
        return HttpResponse(provider.hash_file(data, kind, name), content_type=TEXT)

    what = ("csaf-" + kind, advisory.pk, advisory.updated_at.isoformat(), fingerprint or "")
    return _shared_response(request, what, advisory.updated_at, render)


def csaf_openpgp_key(request: HttpRequest, fingerprint: str) -> HttpResponse:
    """The public key the signatures verify with (section 7.1.20)."""
    if signing.signing_key() != fingerprint:
        raise Http404("no such key")
    response = HttpResponse(signing.public_key(), content_type="application/pgp-keys")
    patch_cache_control(response, public=True, max_age=BROWSER_MAX_AGE)
    return response
