"""Certificate PDFs (WeasyPrint, as the annual report) with a verification URL and QR
code, and what the public verification page shows."""

import logging

import segno
from django.template.loader import render_to_string
from django.utils import translation

from bulwark.training.models import Certificate


def verification_path(certificate: Certificate) -> str:
    return f"/training/certificates/{certificate.code}/"


def render_pdf(certificate: Certificate, base_url: str, lang: str = "en") -> bytes:
    url = base_url.rstrip("/") + verification_path(certificate)
    with translation.override(lang):
        page = render_to_string(
            "training/certificate_pdf.html",
            {
                "certificate": certificate,
                "url": url,
                "qr": segno.make(url, error="m").png_data_uri(scale=4),
            },
        )
    loggers = [logging.getLogger(name) for name in ("weasyprint", "weasyprint.progress")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        import weasyprint  # type: ignore[import-untyped,unused-ignore]  # slow import, rare use

        return weasyprint.HTML(string=page, base_url=None).write_pdf() or b""
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
