"""Input cleaning of advisories: CVE ids and CVSS, affected products, body limits,
recipient fields (what `create_advisory` and `update_advisory` accept)."""

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.advisories import matching
from bulwark.advisories.models import (
    MAX_BODY_CHARS,
    Advisory,
    Response,
)
from bulwark.constituency.models import (
    Organisation,
    Sector,
)

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
CVSS_VECTOR = re.compile(
    r"^CVSS:3\.[01]/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]"
    r"(/(E|RL|RC|CR|IR|AR|MAV|MAC|MPR|MUI|MS|MC|MI|MA):[A-Z])*$"
)
MAX_CVES = 200
MAX_PRODUCTS = 200
MAX_INDICATORS = 1000
# Fields an author writes (and whose changes a revision lists).
CONTENT_FIELDS = [
    "title",
    "title_zh_hant",
    "summary",
    "summary_zh_hant",
    "body",
    "body_zh_hant",
    "category",
    "severity",
    "tlp",
    "publication",
    "cves",
    "affected_products",
    "recommended_actions",
    "recommended_actions_zh_hant",
    "response_required",
    "response_deadline",
    "related_indicators",
    "target_all",
    "target_inventory",
]
TARGET_FIELDS = ["target_sectors", "target_authorities", "target_organisations"]


def clean_cves(values: Iterable[Any]) -> list[dict[str, Any]]:
    cleaned, seen = [], set()
    for position, value in enumerate(values, start=1):
        item = {"id": value} if isinstance(value, str) else dict(value)
        cve_id = str(item.get("id", "")).strip().upper()
        if not CVE_ID.match(cve_id):
            raise ValidationError(
                {
                    "cves": _("#%(n)d: %(v)s is not a CVE id (CVE-YYYY-NNNN).")
                    % {"n": position, "v": cve_id[:40]}
                }
            )
        entry: dict[str, Any] = {"id": cve_id}
        score = item.get("cvss_score")
        if score not in (None, ""):
            try:
                number = float(score)
            except (TypeError, ValueError):
                number = -1.0
            if not 0.0 <= number <= 10.0:
                raise ValidationError(
                    {"cves": _("#%(n)d: a CVSS score lies between 0 and 10.") % {"n": position}}
                )
            entry["cvss_score"] = round(number, 1)
        vector = str(item.get("cvss_vector") or "").strip()
        if vector:
            if not CVSS_VECTOR.match(vector) or len(vector) > 200:
                raise ValidationError(
                    {
                        "cves": _("#%(n)d: %(v)s is not a CVSS 3.x vector.")
                        % {"n": position, "v": vector[:60]}
                    }
                )
            entry["cvss_vector"] = vector
        if cve_id not in seen:
            seen.add(cve_id)
            cleaned.append(entry)
    if len(cleaned) > MAX_CVES:
        raise ValidationError({"cves": _("At most %(n)d CVEs.") % {"n": MAX_CVES}})
    return cleaned


def clean_products(values: Iterable[Any]) -> list[dict[str, str]]:
    cleaned = []
    for position, value in enumerate(values, start=1):
        try:
            if isinstance(value, str):
                product = matching.parse_cpe(value)
                item = {
                    "vendor": product.vendor,
                    "product": product.product,
                    "versions": f"=={product.version}" if product.version else "",
                }
            else:
                item = {
                    "vendor": matching.normalise_name(str(value.get("vendor", ""))),
                    "product": matching.normalise_name(str(value.get("product", ""))),
                    "versions": str(value.get("versions") or "").strip()[:200],
                }
            matching.parse_range(item["versions"])
        except (matching.InvalidProduct, AttributeError) as exc:
            raise ValidationError({"affected_products": f"#{position}: {exc}"}) from None
        cleaned.append(item)
    if len(cleaned) > MAX_PRODUCTS:
        raise ValidationError(
            {"affected_products": _("At most %(n)d products.") % {"n": MAX_PRODUCTS}}
        )
    return cleaned


def clean_advisory(advisory: Advisory) -> None:
    for field in ("body", "body_zh_hant"):
        if len(getattr(advisory, field)) > MAX_BODY_CHARS:
            raise ValidationError(
                {
                    field: _("The body is %(size)d characters; the limit is %(limit)d.")
                    % {"size": len(getattr(advisory, field)), "limit": MAX_BODY_CHARS}
                }
            )
    advisory.cves = clean_cves(advisory.cves or [])
    advisory.affected_products = clean_products(advisory.affected_products or [])
    indicators = [
        str(v).strip()[:2048] for v in advisory.related_indicators or [] if str(v).strip()
    ]
    if len(indicators) > MAX_INDICATORS:
        raise ValidationError(
            {"related_indicators": _("At most %(n)d indicators.") % {"n": MAX_INDICATORS}}
        )
    advisory.related_indicators = list(dict.fromkeys(indicators))
    if advisory.publication and advisory.tlp != "clear":
        raise ValidationError(
            {"publication": _("Only TLP:CLEAR advisories can be published on public pages.")}
        )
    if advisory.response_required != Response.NONE and advisory.response_deadline is None:
        raise ValidationError({"response_deadline": _("A required response needs a deadline.")})
    advisory.full_clean(exclude=["reference", "author", "category"])


def next_reference() -> str:
    year = timezone.now().year
    prefix = f"BWA-{year}-"
    last = (
        Advisory.objects.filter(reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


def set_targets(advisory: Advisory, targets: dict[str, Any]) -> None:
    if "target_sectors" in targets:
        advisory.target_sectors.set(Sector.objects.filter(pk__in=ids_of(targets["target_sectors"])))
    for field in ("target_authorities", "target_organisations"):
        if field in targets:
            getattr(advisory, field).set(Organisation.objects.filter(pk__in=ids_of(targets[field])))


def ids_of(values: Iterable[Any]) -> list[int]:
    return [v.pk if hasattr(v, "pk") else int(v) for v in values]


def split_fields(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    unknown = set(fields) - set(CONTENT_FIELDS) - set(TARGET_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    content = {k: v for k, v in fields.items() if k in CONTENT_FIELDS}
    return content, {k: v for k, v in fields.items() if k in TARGET_FIELDS}
