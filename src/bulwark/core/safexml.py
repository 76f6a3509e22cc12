"""The one XML guard: every XML document from outside (IODEF reports in the exchange, the
incidents' IODEF importer) is parsed by `parse_xml`; a document too large to hold (the
findings engine's scanner reports, hundreds of MB) is streamed by lxml's iterparse with
`STREAM_OPTIONS`, after `check_prolog` has read its head.

Pure module (no Django import), shared by the exchange's engine, the incidents app and the
findings engine.
"""

import codecs
import re
import xml.etree.ElementTree as ET

from defusedxml import (  # type: ignore[import-untyped]
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml import ElementTree as SafeET


class RefusedXML(ValueError):
    """The document is not well-formed, or carries a DTD, entities or an external
    reference; the message says which."""


def parse_xml(data: bytes) -> ET.Element:
    """The one XML guard: defusedxml with DTDs, entities and external references
    refused. RefusedXML (a ValueError) says what was refused."""
    try:
        root: ET.Element = SafeET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DTDForbidden:
        raise RefusedXML(
            "Refused: the document has a DTD (<!DOCTYPE>). IODEF needs none, and DTDs carry "
            "entity-expansion and external-entity (XXE) attacks."
        ) from None
    except EntitiesForbidden:
        raise RefusedXML("Refused: the document declares XML entities.") from None
    except ExternalReferenceForbidden:
        raise RefusedXML("Refused: the document refers to an external resource.") from None
    except DefusedXmlException as exc:
        raise RefusedXML(f"Refused: unsafe XML construct ({type(exc).__name__}).") from None
    except ET.ParseError as exc:
        raise RefusedXML(f"The document is not well-formed XML: {exc}.") from None
    return root


#: lxml.etree.iterparse options for a streamed document: no DTD loaded, no entity
#: resolved, no network, libxml2's limits on depth (256) and text nodes (10 MB) kept.
STREAM_OPTIONS = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
}

_PROLOG_ITEM = re.compile(
    r"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE\b|<!ENTITY|<([A-Za-z_][\w.:-]*))", re.S
)
_DOCTYPE = re.compile(r"<!DOCTYPE\s+[\w.:-]+\s*(\[(?P<subset>.*?)\]\s*)?>", re.S)
_DOCTYPE_EXTERNAL = re.compile(r"<!DOCTYPE\s+[\w.:-]+\s+(SYSTEM|PUBLIC)\b")
_PARAMETER_ENTITY = re.compile(r"%[\w.:-]+;")
REFUSED_DTD = (
    "XML entity declarations and external DTDs are refused: scanner reports need none, "
    'and they carry entity-expansion ("billion laughs") and external-entity (XXE) attacks.'
)


def head_text(head: bytes) -> str:
    """The first bytes of a document as text (UTF-8, or UTF-16 by its BOM), undecodable
    bytes replaced."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    return head.decode("utf-8", errors="replace")


def check_prolog(head: bytes) -> str:
    """The root element's name (without namespace prefix) from the first bytes of a
    document to be streamed; "" when no root element starts in them. RefusedXML for
    entity declarations, parameter entities and external DTDs. An internal DTD of element
    and attribute declarations only (Burp's export carries one, Nmap's a bare
    <!DOCTYPE nmaprun>) is allowed: with STREAM_OPTIONS the parser never loads a DTD nor
    resolves an entity."""
    text = head_text(head).lstrip("\ufeff")
    pos = 0
    while True:
        match = _PROLOG_ITEM.match(text, pos)
        if not match:
            return ""
        token = match.group(1)
        if token.startswith("<!ENTITY"):
            raise RefusedXML(REFUSED_DTD)
        if token.startswith("<!DOCTYPE"):
            start = match.start(1)
            if _DOCTYPE_EXTERNAL.match(text, start):
                raise RefusedXML(REFUSED_DTD)
            doctype = _DOCTYPE.match(text, start)
            if not doctype:
                raise RefusedXML(
                    "The XML file's DTD (<!DOCTYPE>) is malformed or longer than 64 KiB."
                )
            subset = doctype.group("subset") or ""
            if "<!ENTITY" in subset or _PARAMETER_ENTITY.search(subset):
                raise RefusedXML(REFUSED_DTD)
            pos = doctype.end()
            continue
        if match.group(2):
            return match.group(2).split(":")[-1]
        pos = match.end()
