"""A public advisory as a CSAF 2.0 document (OASIS Common Security Advisory Framework).

Only TLP:CLEAR publications are exported (the public pages link them); the schema files
vendored in `schemas/` validate the output in the tests."""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from bulwark.advisories.models import Advisory

SCHEMA_ID = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"


def _utc(moment: Any) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sent_at(advisory: Advisory) -> datetime:
    assert advisory.sent_at is not None, "only sent advisories are published"
    return advisory.sent_at


def last_change(advisory: Advisory) -> datetime:
    return max([sent_at(advisory), *(r.at for r in advisory.revisions.published())])


def vers_range(specifiers: str) -> str:
    """A PEP 440 specifier set as a `vers` range (the notation CSAF 2.0 names)."""
    parts = [p.strip() for p in specifiers.split(",") if p.strip()]
    converted = [p[2:] if p.startswith("==") else p for p in parts]
    return "vers:generic/" + "|".join(converted)


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


def _vulnerabilities(
    advisory: Advisory, product_ids: list[str], language: str = "en"
) -> list[dict[str, Any]]:
    result = []
    for cve in advisory.cves:
        vulnerability: dict[str, Any] = {"cve": cve["id"]}
        if product_ids:
            vulnerability["product_status"] = {"known_affected": product_ids}
            actions = advisory.localised("recommended_actions", language)
            if actions.strip():
                vulnerability["remediations"] = [
                    {
                        "category": "mitigation",
                        "details": actions,
                        "product_ids": product_ids,
                    }
                ]
            if cve.get("cvss_vector") and cve.get("cvss_score") is not None:
                score = float(cve["cvss_score"])
                vulnerability["scores"] = [
                    {
                        "cvss_v3": {
                            "version": cve["cvss_vector"][5:8],
                            "vectorString": cve["cvss_vector"],
                            "baseScore": score,
                            "baseSeverity": _severity(score),
                        },
                        "products": product_ids,
                    }
                ]
        result.append(vulnerability)
    return result


def document(advisory: Advisory, language: str = "en") -> dict[str, Any]:
    if not advisory.is_public:
        raise ValueError("only public (TLP:CLEAR, published) advisories are exported as CSAF")
    page = settings.SITE_URL + reverse("publication-detail", args=[advisory.reference])
    csaf_url = settings.SITE_URL + reverse("publication-csaf", args=[advisory.reference])
    tree, product_ids = _product_tree(advisory)
    vulnerabilities = _vulnerabilities(advisory, product_ids, language)
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
    doc: dict[str, Any] = {
        "document": {
            "category": category,
            "csaf_version": "2.0",
            "distribution": {"tlp": {"label": "WHITE", "url": "https://www.first.org/tlp/"}},
            "lang": "zh-Hant" if language == "zh-hant" else "en",
            "notes": notes,
            "publisher": {
                "category": "coordinator",
                "name": settings.CERT_NAME,
                "namespace": settings.SITE_URL,
            },
            "references": [
                {"category": "self", "summary": "This advisory (CSAF)", "url": csaf_url},
                {"category": "self", "summary": "This advisory (web page)", "url": page},
            ],
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
            "aggregate_severity": {"text": advisory.get_severity_display()},
        }
    }
    if product_ids:
        doc["product_tree"] = tree
    if vulnerabilities:
        doc["vulnerabilities"] = vulnerabilities
    return doc
