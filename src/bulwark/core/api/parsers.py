"""The API's JSON parser: orjson, plus what the database and the serialisers cannot take."""

from typing import Any

import orjson
from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from bulwark.core.params import json_problem


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser recurses through the body with the standard library, so a body of
    100,000 nested brackets raised RecursionError (a 500), and NUL characters reached
    PostgreSQL, which refuses them in text and JSON columns (another 500). orjson refuses
    malformed UTF-8, NaN and nesting beyond 1,024 levels itself; `json_problem` refuses
    nesting beyond MAX_JSON_DEPTH and NUL characters. Each answers 400 with the reason."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.MAX_REQUEST_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(_("JSON parse error - %(e)s") % {"e": exc}) from None
        problem = json_problem(data)
        if problem:
            raise ParseError(problem)
        return data


def _refuse_nul(data: Any) -> None:
    """Form fields: PostgreSQL refuses NUL in text, even in a look-up (a slug, a name)."""
    for key, values in data.lists():
        if "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values):
            raise ParseError(_("Text must not contain NUL characters (\\u0000)."))


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing NUL characters in field names and values (400)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_nul(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL characters in the form's names and values
    (400); uploaded files are bytes and keep whatever they hold."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_nul(parsed.data)
        if any("\x00" in name for name in parsed.files):
            raise ParseError(_("Text must not contain NUL characters (\\u0000)."))
        return parsed
