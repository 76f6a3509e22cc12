"""Reading a printed PDF back as text in tests: pdftotext (poppler) when installed, else
pypdf; whitespace folded to single spaces so a phrase can be looked for across lines."""

import io
import shutil
import subprocess

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-"), pdf[:40]
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
            check=True, timeout=60,
        ).stdout.decode()  # fmt: skip
    else:
        out = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(out.split())
