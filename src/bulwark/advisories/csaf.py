"""A public advisory as a CSAF 2.0 document (OASIS Common Security Advisory Framework).

Only TLP:CLEAR publications are exported (the public pages link them; the provider in
`provider.py` distributes them under `/.well-known/csaf/`). The schema files vendored in
`schemas/` and BSI's csaf-validator-lib (`tools/csaf-validator/`) check the output in the
tests: the schema, every mandatory test (6.1) and the optional tests (6.2).

The rendering is deterministic (keys sorted, as optional test 6.2.13 asks; no time of
rendering inside), so the bytes a hash file or an OpenPGP signature was made of are the
bytes every later request gets."""

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from bulwark.advisories.models import Advisory

SCHEMA_ID = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
# CSAF 2.0 section 5.1: the file name is the tracking id in lower case, every character
# other than + - a-z 0-9 replaced by an underscore, and ".json".
_NOT_FILENAME = re.compile(r"[^+\-a-z0-9]+")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sent_at(advisory: Advisory) -> datetime:
    assert advisory.sent_at is not None, "only sent advisories are published"
    return advisory.sent_at


def last_change(advisory: Advisory) -> datetime:
    return max([sent_at(advisory), *(r.at for r in advisory.revisions.published())])


def filename(tracking_id: str) -> str:
    return _NOT_FILENAME.sub("_", tracking_id.lower()) + ".json"


def folder_year(advisory: Advisory) -> int:
    """The year folder of the provider's directory: the initial release date's year (UTC)."""
    return sent_at(advisory).astimezone(UTC).year


def canonical_url(advisory: Advisory) -> str:
    """Where the provider publishes the document: `<SITE_URL>/.well-known/csaf/white/<year>/<file>`
    (CSAF 2.0 section 7.1.11); the address always comes from SITE_URL, never a request."""
    return settings.SITE_URL + reverse(
        "csaf-document",
        kwargs={"year": folder_year(advisory), "name": filename(advisory.reference)},
    )


def render(advisory: Advisory, language: str = "en") -> bytes:
    """The document as served, hashed and signed: UTF-8 JSON with sorted keys."""
    return json.dumps(
        document(advisory, language), ensure_ascii=False, indent=2, sort_keys=True
    ).encode()


_CVSS3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_CVSS3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _roundup(value: float, minor: str) -> float:
    if minor == "0":
        return math.ceil(value * 10) / 10
    # CVSS 3.1 Appendix A: round up on integers to avoid floating-point surprises.
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """The base score a CVSS 3.0/3.1 vector defines (FIRST specification, section 7.1).

    CSAF validators recompute it (mandatory test 6.1.9), so the document states the score
    of the vector rather than a number typed next to it; None for a malformed vector."""
    parts = vector.split("/")
    if not parts or parts[0] not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        scope = metrics["S"]
        w = {name: _CVSS3_WEIGHTS[name][metrics[name]] for name in _CVSS3_WEIGHTS}
        privileges = _CVSS3_PR[scope][metrics["PR"]]
    except KeyError:
        return None
    iss = 1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"])
    changed = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    impact = 6.42 * iss if scope == "U" else changed
    exploitability = 8.22 * w["AV"] * w["AC"] * privileges * w["UI"]
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _roundup(min(total, 10.0), parts[0][-1])


def _bump(release: list[str], position: int) -> str:
    """The release after `release` at `position`: 2.4.1 at 1 is 2.5."""
    head = release[:position]
    return ".".join([*head[:-1], str(int(head[-1]) + 1)]) if head else "0"


def _vers_constraints(specifier: str) -> list[str]:
    """One PEP 440 specifier in vers comparators (=, !=, <, <=, >, >=)."""
    if specifier.startswith("~="):
        # Compatible release: ~=2.4.1 is >=2.4.1 and <2.5; ~=2.4 is >=2.4 and <3.
        version = specifier[2:]
        release = version.split(".")
        if len(release) >= 2 and all(p.isdigit() for p in release[:-1]):
            return [f">={version}", f"<{_bump(release, len(release) - 1)}"]
    if specifier.startswith("==") and specifier.endswith(".*"):
        # Prefix match: ==2.4.* is >=2.4 and <2.5.
        release = specifier.lstrip("=")[:-2].split(".")
        if all(p.isdigit() for p in release):
            return [f">={'.'.join(release)}", f"<{_bump(release, len(release))}"]
    if specifier.startswith("==="):
        return [specifier[3:]]
    if specifier.startswith("=="):
        return [specifier[2:]]
    return [specifier]


def vers_range(specifiers: str) -> str:
    """A PEP 440 specifier set as a `vers` range (the notation CSAF 2.0 names for
    `product_version_range`): `>=2.4.0,<2.4.60` is `vers:generic/>=2.4.0|<2.4.60`."""
    parts = [p.strip() for p in specifiers.split(",") if p.strip()]
    return "vers:generic/" + "|".join(c for p in parts for c in _vers_constraints(p))


def _severity(score: float) -> str:
    if score == 0:
        return "NONE"
    if score < 4:
        return "LOW"
    if score < 7:
        return "MEDIUM"
    if score < 9:
        return "HIGH"
    return "CRITICAL"


def _product_tree(advisory: Advisory) -> tuple[dict[str, Any], list[str]]:
    vendors: dict[str, list[dict[str, Any]]] = {}
    ids: list[str] = []
    for number, item in enumerate(advisory.affected_products, start=1):
        product_id = f"CSAFPID-{number:04d}"
        ids.append(product_id)
        name = f"{item['vendor']} {item['product']}"
        full = {
            "name": f"{name} {item['versions']}".strip(),
            "product_id": product_id,
            "product_identification_helper": {
                "cpe": f"cpe:2.3:a:{item['vendor']}:{item['product']}:*:*:*:*:*:*:*:*"
            },
        }
        if item.get("versions"):
            branch = {
                "category": "product_name",
                "name": item["product"],
                "branches": [
                    {
                        "category": "product_version_range",
                        "name": vers_range(item["versions"]),
                        "product": full,
                    }
                ],
            }
        else:
            branch = {"category": "product_name", "name": item["product"], "product": full}
        vendors.setdefault(item["vendor"], []).append(branch)
    tree = {
        "branches": [
            {"category": "vendor", "name": vendor, "branches": branches}
            for vendor, branches in vendors.items()
        ]
    }
    return tree, ids


def _scores(cve: dict[str, Any], product_ids: list[str]) -> list[dict[str, Any]]:
    vector = str(cve.get("cvss_vector") or "")
    score = cvss3_base_score(vector) if vector else None
    if score is None:
        return []
    return [
        {
            "cvss_v3": {
                "baseScore": score,
                "baseSeverity": _severity(score),
                "vectorString": vector,
                "version": vector[5:8],
            },
            "products": product_ids,
        }
    ]


def _vulnerabilities(
    advisory: Advisory, product_ids: list[str], language: str, page: str
) -> list[dict[str, Any]]:
    result = []
    for cve in advisory.cves:
        vulnerability: dict[str, Any] = {
            "cve": cve["id"],
            # Mandatory test 6.1.27.5: every vulnerability of a security advisory has notes.
            "notes": [
                {
                    "category": "summary",
                    "title": "Summary",
                    "text": advisory.localised("summary", language),
                }
            ],
            "references": [
                {
                    "category": "external",
                    "summary": f"{cve['id']} in the CVE list",
                    "url": f"https://www.cve.org/CVERecord?id={cve['id']}",
                }
            ],
        }
        if product_ids:
            vulnerability["product_status"] = {"known_affected": product_ids}
            actions = advisory.localised("recommended_actions", language).strip()
            vulnerability["remediations"] = [
                {
                    "category": "mitigation",
                    # Without recommended actions, the advisory's page is the advice.
                    "details": actions or "Follow the recommendations of the advisory.",
                    "product_ids": product_ids,
                    "url": page,
                }
            ]
            scores = _scores(cve, product_ids)
            if scores:
                vulnerability["scores"] = scores
        result.append(vulnerability)
    return result


def _products_note(advisory: Advisory) -> dict[str, Any]:
    lines = [
        f"{p['vendor']} {p['product']} {p['versions']}".strip() for p in advisory.affected_products
    ]
    return {"category": "details", "title": "Products", "text": "\n".join(lines)}


def document(advisory: Advisory, language: str = "en") -> dict[str, Any]:
    """The document in `language` (its labels too, whatever language the request that
    rendered it was in: the same bytes for every reader)."""
    with translation.override("zh-hant" if language == "zh-hant" else "en"):
        return _document(advisory, language)


def _document(advisory: Advisory, language: str) -> dict[str, Any]:
    if not advisory.is_public:
        raise ValueError("only public (TLP:CLEAR, published) advisories are exported as CSAF")
    site = settings.SITE_URL
    page = site + reverse("publication-detail", args=[advisory.reference])
    canonical = canonical_url(advisory)
    tree, product_ids = _product_tree(advisory)
    vulnerabilities = _vulnerabilities(advisory, product_ids, language, page)
    if product_ids and vulnerabilities:
        category = "csaf_security_advisory"
    elif not vulnerabilities:
        category = "csaf_informational_advisory"
    else:
        category = "csaf_base"
    history = [{"date": _utc(sent_at(advisory)), "number": "1", "summary": "Initial version."}] + [
        {"date": _utc(r.at), "number": str(r.number), "summary": r.note}
        for r in advisory.revisions.published().order_by("number")
    ]
    notes = [
        {
            "category": "summary",
            "title": "Summary",
            "text": advisory.localised("summary", language),
        },
        {
            "category": "description",
            "title": "Details",
            "text": advisory.localised("body", language),
        },
    ]
    if advisory.related_indicators:
        notes.append(
            {
                "category": "details",
                "title": "Related indicators",
                "text": "\n".join(advisory.related_indicators),
            }
        )
    if product_ids and not vulnerabilities:
        # An informational advisory has no product status to refer to product ids, and a
        # product tree without references is what optional test 6.2.1 warns about.
        notes.append(_products_note(advisory))
    zh = language == "zh-hant"
    references = [
        {"category": "self", "summary": "This advisory (CSAF)", "url": canonical},
        {"category": "self", "summary": "This advisory (web page)", "url": page},
        {
            # Mandatory test 6.1.27.2: an informational advisory refers to something outside.
            "category": "external",
            "summary": f"All security publications of {settings.CERT_NAME}",
            "url": site + reverse("publication-list"),
        },
    ]
    if zh:
        references.insert(
            1,
            {
                "category": "self",
                "summary": "This advisory (CSAF, Traditional Chinese)",
                "url": site
                + reverse("publication-csaf", args=[advisory.reference])
                + "?lang=zh-hant",
            },
        )
    doc: dict[str, Any] = {
        "document": {
            "aggregate_severity": {"text": advisory.get_severity_display()},
            "category": category,
            "csaf_version": "2.0",
            "distribution": {"tlp": {"label": "WHITE", "url": "https://www.first.org/tlp/"}},
            "lang": "zh-Hant" if zh else "en",
            "notes": notes,
            "publisher": {
                "category": "coordinator",
                "name": settings.CERT_NAME,
                "namespace": site,
            },
            "references": references,
            "title": advisory.localised("title", language),
            "tracking": {
                "current_release_date": _utc(last_change(advisory)),
                "generator": {"engine": {"name": "Bulwark"}},
                "id": advisory.reference,
                "initial_release_date": _utc(sent_at(advisory)),
                "revision_history": history,
                "status": "final",
                "version": str(advisory.revision),
            },
        }
    }
    if zh:
        # A translation of the English original (CSAF 2.0 section 3.2.1.14).
        doc["document"]["source_lang"] = "en"
    if product_ids and vulnerabilities:
        doc["product_tree"] = tree
    if vulnerabilities:
        doc["vulnerabilities"] = vulnerabilities
    return doc
