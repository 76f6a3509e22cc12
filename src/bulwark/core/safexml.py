"""The one XML guard: every XML document from outside (IODEF reports in the exchange, the
incidents' IODEF importer) is parsed by `parse_xml`.

Pure module (no Django import), shared by the exchange's engine and the incidents app.
"""

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
