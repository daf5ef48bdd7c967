"""Rate limits. Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (settings).

Each class reads its rate when a request arrives (DRF's own classes copy the rates at
import time, which ignores later setting changes), and keys the count on what the limit
is about: the client address for the token endpoint, the user for attempt submission and
error reports, the API token (or user) for HR tools, the invitation for candidates.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.services import token_hash


class _ScopedThrottle(SimpleRateThrottle):
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def key_for(self, request: Request, view: APIView) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        ident = self.key_for(request, view)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class TokenObtainThrottle(_ScopedThrottle):
    """Password guessing on ``POST /auth/token/``: per client address."""

    scope = "token"

    def key_for(self, request: Request, view: APIView) -> str | None:
        return self.get_ident(request)


class _PerUserThrottle(_ScopedThrottle):
    def key_for(self, request: Request, view: APIView) -> str | None:
        if request.user and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return self.get_ident(request)


class AttemptSubmitThrottle(_PerUserThrottle):
    scope = "attempt_submit"


class ErrorReportThrottle(_PerUserThrottle):
    scope = "error_report"


class HrThrottle(_ScopedThrottle):
    """Per API token when a tool uses one, per user otherwise."""

    scope = "hr"

    def key_for(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiToken):
            return f"token-{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return self.get_ident(request)


class CandidateThrottle(_ScopedThrottle):
    """Per invitation token (hashed: raw tokens never reach the cache)."""

    scope = "candidate"

    def key_for(self, request: Request, view: APIView) -> str | None:
        token = str(view.kwargs.get("token", ""))
        return f"invitation-{token_hash(token)[:32]}" if token else self.get_ident(request)
