"""OpenAPI schema tuning: the error responses every operation can give.

drf-spectacular documents only the success responses it can infer. Every operation can
also answer with the API's one error shape (``interview_platform.api.errors``); this hook
adds those responses, so clients (and schemathesis) know that a 400, 401, 403, 404, 409,
415, 422 or 429 is a documented answer with a JSON body, not a surprise.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "A readable message."},
        "code": {"type": "string", "description": "A stable machine code, e.g. `invalid`, `not_found`."},
        "errors": {
            "type": "object",
            "description": "Messages per input field (validation errors only).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "code"],
    "additionalProperties": True,
}

ERROR_DESCRIPTIONS = {
    "400": "Bad input: `errors` names each field and what is wrong.",
    "401": "Not signed in, or the token is invalid, expired or revoked.",
    "403": "Signed in, but this role may not do this.",
    "404": "No such object, or not yours.",
    "405": "Method not allowed.",
    "406": "No acceptable representation for the Accept header.",
    "409": "Conflict with the current state (e.g. a stale `base_version`; `current_version` names the latest).",
    "415": "Unsupported media type: send JSON.",
    "422": "The Idempotency-Key was already used for a different request.",
    "429": "Too many requests: `retry_after_s` says when to try again.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_DESCRIPTIONS.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result


# Enum names come from SPECTACULAR_SETTINGS (settings.py), shared with `manage.py spectacular`.
SCHEMA_SETTINGS = {
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "interview_platform.api.schema.add_error_responses",
    ],
}
