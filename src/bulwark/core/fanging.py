"""Defanged indicators, as analysts and mail filters write them (`hxxp://evil[.]example`,
`203.0.113[.]7`, `user[@]evil.example`), read as what they stand for.

Pure module. The rewriting is ioc-fanger's (a maintained table of the spellings in use);
what this module adds is the rule that a value already valid as typed is never rewritten,
so a real URL that happens to hold brackets keeps every byte.
"""

from collections.abc import Callable
from typing import TypeVar

from ioc_fanger import fang  # type: ignore[import-untyped]

T = TypeVar("T")


def read_defanged(parse: Callable[[str], T], value: str) -> T:
    """`parse(value)`; when that refuses the value and it reads differently refanged,
    `parse(refanged)`. The first refusal is raised when the refanged value fails too."""
    try:
        return parse(value)
    except ValueError:
        refanged = fang(value)
        if refanged == value:
            raise
        try:
            return parse(refanged)
        except ValueError:
            pass
        raise
