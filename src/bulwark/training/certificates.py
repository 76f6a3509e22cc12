"""Certificate PDFs (printed by `core.pdf`, as every PDF of the platform) with a
verification URL and QR code, and what the public verification page shows."""

import segno
from django.template.loader import render_to_string
from django.utils import translation

from bulwark.core.pdf import print_html
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
    return print_html(page).pdf
