"""The one domain error type that services raise."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A rule of the domain refused an operation.

    ``message`` is readable by a person (shown in the admin, the portal and API errors);
    ``code`` is stable for programs; ``field_errors`` maps input fields to messages;
    ``status_code`` is the HTTP status the API answers with (400 unless a rule says
    otherwise, e.g. 409 for a stale version); ``extra`` adds keys to the API body.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field_errors: dict[str, list[str]] | None = None,
        status_code: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field_errors = field_errors or {}
        self.status_code = status_code
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message
