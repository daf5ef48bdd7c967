"""API-wide views and path converters."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # answers 404 to every method; CSRF's HTML 403 must not answer first
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Unknown paths under /api/v1/ answer JSON like every other API error."""
    return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)


class IdConverter:
    """A database id: 1 to 18 digits, so an absurd number is a 404, never an integer overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
