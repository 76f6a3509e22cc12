"""The CSAF 2.0 provider (OASIS CSAF 2.0 section 7): what a CSAF aggregator, BSI's
csaf_checker or any CSAF downloader reads to find, verify and mirror the public advisories.

    /.well-known/csaf/provider-metadata.json        provider metadata (requirements 7, 9)
    /.well-known/csaf/service.json                  ROLIE service document (16)
    /.well-known/csaf/white/category-white.json     ROLIE category document (17)
    /.well-known/csaf/white/csaf-feed-tlp-white.json ROLIE feed (15)
    /.well-known/csaf/white/                        directory listing (14)
    /.well-known/csaf/white/index.txt               every document's path (12)
    /.well-known/csaf/white/changes.csv             path and current release date (13)
    /.well-known/csaf/white/<year>/<id>.json        the document, in its year's folder (11)
        .sha256 / .sha512 / .asc                    hashes (18), OpenPGP signature (19)
    /.well-known/csaf/openpgp/<fingerprint>.asc     the public signing key (20)

Only the public set (`Advisory.objects.visible_to(AnonymousUser())`: sent, TLP:CLEAR,
marked as a publication) is distributed, so the only feed is TLP:WHITE (CSAF 2.0 names
TLP 1.0 labels; TLP:CLEAR is its 2.0 name). Every absolute URL comes from SITE_URL.
Signatures and keys are claimed only when a signing key is usable (`signing.py`).

The functions here build the bytes; `public.py` serves them with the shared cache."""

import csv
import hashlib
import io
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bulwark.advisories import csaf, signing
from bulwark.advisories.models import Advisory, Revision

TLP = "WHITE"
ROLIE_CSAF = {"scheme": "urn:ietf:params:rolie:category:information-type", "term": "csaf"}


def url(name: str, **kwargs: Any) -> str:
    return settings.SITE_URL + reverse(name, kwargs=kwargs or None)


def relative_path(advisory: Advisory) -> str:
    """The document's path below the distribution's directory: `<year>/<file>`."""
    return f"{csaf.folder_year(advisory)}/{csaf.filename(advisory.reference)}"


def find(advisories: QuerySet[Advisory], year: int, name: str) -> Advisory | None:
    """The public advisory published as `<year>/<name>`, if there is one."""
    if not name.endswith(".json"):
        return None
    advisory = advisories.filter(reference__iexact=name[: -len(".json")]).first()
    if advisory is None or relative_path(advisory) != f"{year}/{name}":
        return None
    return advisory


def key_url(fingerprint: str) -> str:
    return url("csaf-openpgp-key", fingerprint=fingerprint)


def _stamp(moment: datetime) -> str:
    return csaf._utc(moment)


def current_release_dates(advisories: list[Advisory]) -> dict[int, datetime]:
    """Each advisory's current release date (`csaf.last_change`: the send or the newest
    approved revision), for the whole list in one query."""
    latest = dict(
        Revision.objects.published()
        .filter(advisory_id__in=[a.pk for a in advisories])
        .order_by()
        .values("advisory_id")
        .annotate(newest=Max("at"))
        .values_list("advisory_id", "newest")
    )
    dates = {}
    for advisory in advisories:
        revised = latest.get(advisory.pk)
        sent = csaf.sent_at(advisory)
        dates[advisory.pk] = max(sent, revised) if revised else sent
    return dates


def _newest(dates: dict[int, datetime]) -> datetime:
    return max(dates.values(), default=timezone.now())


def provider_metadata(advisories: list[Advisory]) -> dict[str, Any]:
    fingerprint = signing.signing_key()
    metadata: dict[str, Any] = {
        "canonical_url": url("csaf-provider-metadata"),
        "distributions": [
            {
                "directory_url": url("csaf-directory"),
                "rolie": {
                    "categories": [url("csaf-rolie-category")],
                    "feeds": [
                        {
                            "summary": f"TLP:WHITE (TLP:CLEAR) advisories of {settings.CERT_NAME}",
                            "tlp_label": TLP,
                            "url": url("csaf-rolie-feed"),
                        }
                    ],
                    "services": [url("csaf-rolie-service")],
                },
            }
        ],
        "last_updated": _stamp(_newest(current_release_dates(advisories))),
        "list_on_CSAF_aggregators": True,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": True,
        "publisher": {
            "category": "coordinator",
            "name": settings.CERT_NAME,
            "namespace": settings.SITE_URL,
        },
        # A trusted provider signs every document (requirements 18 to 20).
        "role": "csaf_trusted_provider" if fingerprint else "csaf_provider",
    }
    if fingerprint:
        metadata["public_openpgp_keys"] = [
            {"fingerprint": fingerprint, "url": key_url(fingerprint)}
        ]
    return metadata


def _entry_categories(advisory: Advisory) -> list[dict[str, str]]:
    terms = sorted({f"{p['vendor']} {p['product']}" for p in advisory.affected_products})
    return [ROLIE_CSAF, *({"term": term} for term in terms)]


def rolie_feed(advisories: list[Advisory]) -> dict[str, Any]:
    signed = signing.signing_key() is not None
    dates = current_release_dates(advisories)
    entries = []
    for advisory in sorted(advisories, key=lambda a: dates[a.pk], reverse=True):
        document_url = csaf.canonical_url(advisory)
        links = [
            {"rel": "self", "href": document_url},
            {"rel": "hash", "href": document_url + ".sha256"},
            {"rel": "hash", "href": document_url + ".sha512"},
        ]
        if signed:
            links.append({"rel": "signature", "href": document_url + ".asc"})
        entries.append(
            {
                "category": _entry_categories(advisory),
                "content": {"src": document_url, "type": "application/json"},
                "format": {"schema": csaf.SCHEMA_ID, "version": "2.0"},
                "id": advisory.reference,
                "link": links,
                "published": _stamp(csaf.sent_at(advisory)),
                "summary": {"content": advisory.summary or advisory.title},
                "title": advisory.title,
                "updated": _stamp(dates[advisory.pk]),
            }
        )
    return {
        "feed": {
            "category": [ROLIE_CSAF],
            "entry": entries,
            "id": f"{settings.CERT_NAME}-csaf-feed-tlp-white",
            "link": [{"rel": "self", "href": url("csaf-rolie-feed")}],
            "title": f"{settings.CERT_NAME} CSAF advisories (TLP:WHITE)",
            "updated": _stamp(_newest(dates)),
        }
    }


def rolie_service() -> dict[str, Any]:
    return {
        "service": {
            "workspace": [
                {
                    "title": f"{settings.CERT_NAME} CSAF advisories",
                    "collection": [
                        {
                            "title": f"{settings.CERT_NAME} CSAF advisories (TLP:WHITE)",
                            "href": url("csaf-rolie-feed"),
                            "categories": {"category": [ROLIE_CSAF]},
                        }
                    ],
                }
            ]
        }
    }


def rolie_category(advisories: list[Advisory]) -> dict[str, Any]:
    """The categories the feed's entries use besides `csaf`: the affected products."""
    terms = sorted({c["term"] for a in advisories for c in _entry_categories(a)[1:]})
    return {"categories": {"category": [{"term": term} for term in terms]}}


def index_txt(advisories: list[Advisory]) -> str:
    return "".join(f"{path}\n" for path in sorted(relative_path(a) for a in advisories))


def changes_csv(advisories: list[Advisory]) -> str:
    """`"<path>","<current release date>"` per document, newest first (section 7.1.13)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    dates = current_release_dates(advisories)
    for advisory in sorted(advisories, key=lambda a: dates[a.pk], reverse=True):
        writer.writerow([relative_path(advisory), _stamp(dates[advisory.pk])])
    return out.getvalue()


def hash_file(data: bytes, algorithm: str, name: str) -> str:
    """The `sha256sum`/`sha512sum` line for the file (section 7.1.18)."""
    return f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n"


def listing(title: str, names: list[str]) -> str:
    """A plain HTML directory listing (section 7.1.14) with relative links."""
    links = format_html_join("\n", '<li><a href="{}">{}</a></li>', ((n, n) for n in names))
    return format_html(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{}</title></head>'
        "<body><h1>{}</h1><ul>\n{}\n</ul></body></html>\n",
        title,
        title,
        links,
    )
