"""One JSON error shape for the whole API.

Every error answers ``{"detail": "<readable message>", "code": "<machine code>",
"errors": {field: [messages]}}`` (``errors`` only for validation failures), so clients
handle 400, 401, 403, 404, 405, 409 and 429 the same way. Domain errors raised by
services (``ServiceError``) become 400, or their own status when they carry one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from interview_platform.errors import ServiceError


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _field_messages(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{field: [messages]}`` with nested errors under dotted keys (``question_ids.2``)."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            flat.update(_field_messages(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        flat[prefix or "non_field_errors"] = list(errors)
    elif isinstance(errors, list):
        for index, item in enumerate(errors):
            if item:
                flat.update(_field_messages(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "non_field_errors"] = [str(errors)]
    return flat


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.field_errors:
            body["errors"] = exc.field_errors
        body.update(exc.extra)
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_messages(_flatten(exc.detail))
        first = next(iter(errors.values()), ["Invalid input."])
        first_message = first[0] if isinstance(first, list) and first else str(first)
        response.data = {"detail": f"Invalid input: {first_message}", "code": "invalid", "errors": errors}
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = {"detail": _flatten(detail) if not isinstance(detail, str) else str(detail), "code": code}
        if isinstance(exc, exceptions.ParseError):
            # Malformed JSON is a bad input like any other: name where it went wrong.
            response.data["errors"] = {"non_field_errors": [str(detail)]}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after_s"] = int(exc.wait)
    return response
