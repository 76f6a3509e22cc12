"""stix2-validator with its STIX 2.1 schemas, also where the installed release lacks them
(see stix21_schemas/README.md)."""

from pathlib import Path
from typing import Any

import stix2validator.validator  # type: ignore[import-untyped]
from stix2validator import ValidationOptions, validate_string

VENDORED = Path(__file__).parent / "stix21_schemas"


def validate_stix21(text: str) -> Any:
    """The validator's result for a STIX 2.1 JSON text (with the schema checks)."""
    module = stix2validator.validator
    installed = Path(module.__file__).parent / "schemas-2.1" / "schemas" / "common"
    if installed.is_dir():
        return validate_string(text, ValidationOptions(version="2.1"))
    # The validator finds its schemas beside its own file; show it the vendored ones.
    real = module.__file__
    module.__file__ = str(VENDORED / "validator.py")
    try:
        return validate_string(text, ValidationOptions(version="2.1"))
    finally:
        module.__file__ = real
