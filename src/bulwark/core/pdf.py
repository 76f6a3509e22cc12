"""The one way the platform prints a PDF: HTML (a Django template) through WeasyPrint.

Used by the annual report, training certificates, the drills results report and the
findings engagement report. What they share lives here: the lazy WeasyPrint import (2-6 s,
only PDF rendering needs it), a URL fetcher that loads inline `data:` URLs only (a PDF
never reaches out to the network or the file system, whatever a text block or a finding's
title links to), WeasyPrint's chatty loggers silenced while it works, the page count, the
report languages and the download response."""

import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

# Report language as users write it -> Django language code.
LANGUAGE_CODES = {"en": "en", "zh-hant": "zh-hant", "zh-tw": "zh-hant"}
LANGUAGE_LABELS = {"en": "en", "zh-hant": "zh-Hant"}
# Fonts with Traditional Chinese glyphs, tried in order (DejaVu first for Latin text).
CJK_CSS_FAMILIES = (
    '"DejaVu Sans", "Noto Sans CJK TC", "Noto Sans TC", "Source Han Sans TC", '
    '"WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing TW", sans-serif'
)
_LOGGERS = ("weasyprint", "weasyprint.progress")


class BadPdfLanguage(ValueError):
    """A report language we do not print; the message says which we do."""


def language_code(lang: str | None) -> str:
    """ "en", "zh-Hant", "zh-hant", "zh-TW" -> the Django language code; anything else is
    refused with a message for the user."""
    code = LANGUAGE_CODES.get((lang or "").strip().lower())
    if code is None:
        raise BadPdfLanguage(
            _("Unknown report language %(lang)r: use en or zh-Hant.") % {"lang": lang}
        )
    return code


def inline_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher for the document's own inline pictures (`data:` URLs)
    only: a link in the text stays a link, nothing is loaded from outside."""
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped,unused-ignore]

    class InlineOnly(URLFetcher):  # type: ignore[misc,unused-ignore]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"a printed document loads no external resource ({url[:80]})")
            return super().fetch(url, headers)

    return InlineOnly(allowed_protocols={"data"})


@dataclass(frozen=True)
class Printed:
    pdf: bytes
    pages: int


def print_html(page: str) -> Printed:
    """The PDF of a standalone HTML page (inline CSS and pictures) and its page count."""
    # WeasyPrint narrates every step (INFO, already while it is imported) and every SVG
    # presentation attribute its HTML CSS parser does not know (WARNING, harmless: the SVG
    # renderer reads them).
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        import weasyprint  # type: ignore[import-untyped,unused-ignore]  # slow: PDF only

        document = weasyprint.HTML(
            string=page, base_url=None, url_fetcher=inline_only_fetcher()
        ).render()
        return Printed(document.write_pdf() or b"", len(document.pages))
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def pdf_response(pdf: bytes, file_name: str, *, inline: bool = False) -> HttpResponse:
    """A PDF download that is never cached by a shared cache (it holds one reader's view)."""
    response = HttpResponse(pdf, content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{file_name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
