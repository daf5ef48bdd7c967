"""API-wide views."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Unknown paths under /api/v1/ answer JSON like every other API error."""
    return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
