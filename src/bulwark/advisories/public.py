"""Public publications: security alerts, news and guidelines, TLP:CLEAR only, without
signing in, in English and Traditional Chinese; RSS 2.0, Atom and JSON Feed; CSAF 2.0.

Every query here starts from `Advisory.objects.visible_to(AnonymousUser())`, which is
exactly the public set: a non-CLEAR advisory can never reach these paths."""

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import feedgenerator, translation
from django.utils.translation import gettext as _

from bulwark.advisories import csaf
from bulwark.advisories.csaf import last_change, sent_at
from bulwark.advisories.models import Advisory, AdvisoryQuerySet, Publication
from bulwark.advisories.rendering import markdown_to_html

FEED_ITEMS = 50
LANGUAGES = {code for code, _name in settings.LANGUAGES}


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
                "actions_html": markdown_to_html(advisory.recommended_actions),
                "revisions": advisory.revisions.published().order_by("number"),
                "feeds": _feed_links(language, ""),
                "language": language,
                "csaf_url": reverse("publication-csaf", args=[advisory.reference])
                + f"?lang={language}",
            },
        )


def publication_csaf(request: HttpRequest, reference: str) -> HttpResponse:
    advisory = get_object_or_404(public_advisories(), reference=reference)
    document = csaf.document(advisory, _language(request))
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'inline; filename="{reference.lower()}.json"'
    return response


def _items(request: HttpRequest) -> tuple[str, str, list[Advisory]]:
    language, kind = _language(request), _kind(request)
    items = public_advisories()
    if kind:
        items = items.filter(publication=kind)
    return language, kind, list(items[:FEED_ITEMS])


def _feed(request: HttpRequest, generator: type[feedgenerator.SyndicationFeed]) -> HttpResponse:
    language, _unused_kind, items = _items(request)
    site = settings.SITE_URL
    with translation.override(language):
        feed = generator(
            title=_("%(cert)s security publications") % {"cert": settings.CERT_NAME},
            link=site + reverse("publication-list"),
            description=_("Security alerts, news and guidelines (TLP:CLEAR)."),
            language=language,
            feed_url=site + request.get_full_path(),
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
    return _feed(request, feedgenerator.Rss201rev2Feed)


def feed_atom(request: HttpRequest) -> HttpResponse:
    return _feed(request, feedgenerator.Atom1Feed)


def feed_json(request: HttpRequest) -> HttpResponse:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    language, _unused_kind, items = _items(request)
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
            "feed_url": site + request.get_full_path(),
            "language": language,
            "items": entries,
        }
    return JsonResponse(
        body, content_type="application/feed+json", json_dumps_params={"ensure_ascii": False}
    )
