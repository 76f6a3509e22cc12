"""Error answers every API operation can give, added to the OpenAPI schema in one place.

Any operation answers 401 (no, expired or revoked token), 403 (missing scope or role),
400 (a bad filter, limit or offset, or body) and 404 (what you may not see); operations
that take a body also 413 (over BULWARK_MAX_REQUEST_BODY) and 415 (a content type other
than JSON or forms). drf-spectacular documents only the success answers, so clients (and
the schemathesis run in core/tests/test_api_fuzz.py) would take these for undocumented."""

from typing import Any

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
ERRORS = {
    "400": "Invalid input: the body names each field and its problem.",
    "401": "Missing, malformed, expired or revoked credentials.",
    "403": "The token lacks the scope, or the user the role, this request needs.",
    "404": "Not found, or not visible to you.",
}
BODY_ERRORS = {
    "413": "The request body is larger than the limit.",
    "415": "Unsupported content type: send JSON or a form.",
}
METHODS = ("get", "put", "post", "patch", "delete")


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (settings.SPECTACULAR_SETTINGS)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "description": "`detail` with a message, or each field with its messages.",
            "additionalProperties": True,
        },
    )
    for path_item in result.get("paths", {}).values():
        for method in METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            errors = dict(ERRORS)
            if "requestBody" in operation:
                errors.update(BODY_ERRORS)
            for code, description in errors.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    },
                )
    return result
