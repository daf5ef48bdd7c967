"""``Idempotency-Key`` for POSTs that tools retry (attempts, assessments, invitations).

A client that did not see the response to a POST sends it again with the same key; it
gets the first response back (with ``Idempotent-Replayed: true``) instead of creating a
duplicate. Keys belong to the user who sent them and are kept for 24 hours.

Protocol:
1. The key (1–200 printable characters) and a fingerprint of the request (method, path,
   canonical JSON body) are recorded in their own committed row *before* the view runs;
   the unique (user, key) constraint makes a concurrent duplicate fail at this step.
2. A duplicate finds the row: with another fingerprint it answers 422 (the key was used
   for a different request); without a stored response yet it answers 409 (the first
   request is still running; retry later); otherwise it replays the stored response.
3. After the view, the response (status, JSON body, Location) is stored. Server errors
   and throttling (429) are not stored: the row is deleted so a retry runs again.

Secrets in a response (an invitation's token) are never stored: the view passes
``redact`` to remove them and ``restore`` to recompute them on replay.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from attempts.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEY_TTL = timedelta(hours=24)
REPLAYED_HEADERS = ("Location",)

Redact = Callable[[Any], Any]
Restore = Callable[[Request, Any], Any]


def _error(status: int, message: str, code: str) -> Response:
    return Response({"detail": message, "code": code, "errors": {HEADER: [message]}}, status=status)


def request_fingerprint(request: Request) -> str:
    raw = request._request.body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), canonical):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _claim(request: Request, key: str, fingerprint: str) -> tuple[IdempotencyRecord | None, Response | None]:
    """Record the key (step 1) or answer for an earlier request with it (step 2)."""
    user = request.user
    # Keys expire after KEY_TTL: the user's expired records go (which also frees this key).
    IdempotencyRecord.objects.filter(user=user, created_at__lt=timezone.now() - KEY_TTL).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, key=key, method=request.method, path=request.path, request_fingerprint=fingerprint
            )
        return record, None
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is None:  # deleted meanwhile by a failed first request: the client may retry
        return None, _error(409, _("A request with this Idempotency-Key is being retried; try again."), "conflict")
    if existing.request_fingerprint != fingerprint:
        return None, _error(
            422,
            _("This Idempotency-Key was already used for a different request; use a new key."),
            "idempotency_key_reused",
        )
    if existing.response_status is None:
        return None, _error(
            409, _("A request with this Idempotency-Key is still in progress; retry later."), "in_progress"
        )
    return None, None


def _replay(request: Request, key: str, restore: Restore | None) -> Response:
    record = IdempotencyRecord.objects.get(user=request.user, key=key)
    body = record.response_body
    if restore is not None and body is not None:
        body = restore(request, body)
    response = Response(body, status=record.response_status, headers=record.response_headers or {})
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(redact: Redact | None = None, restore: Restore | None = None) -> Callable:
    """Decorate an APIView's ``post``. Requests without the header run as usual."""

    def decorate(method: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(method)
        def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None or not request.user.is_authenticated:
                return method(view, request, *args, **kwargs)
            key = key.strip()
            if not key or len(key) > 200 or not key.isprintable():
                return _error(400, _("The Idempotency-Key must be 1 to 200 printable characters."), "invalid")
            record, answer = _claim(request, key, request_fingerprint(request))
            if answer is not None:
                return answer
            if record is None:
                return _replay(request, key, restore)
            try:
                try:
                    response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)  # re-raises what is not an API error
            except BaseException:
                record.delete()
                raise
            if response.status_code >= 500 or response.status_code == 429:
                record.delete()
                return response
            body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder)) if response.data is not None else None
            record.response_status = response.status_code
            record.response_body = redact(body) if redact is not None and body is not None else body
            record.response_headers = {name: response[name] for name in REPLAYED_HEADERS if name in response}
            record.save(update_fields=["response_status", "response_body", "response_headers"])
            return response

        return wrapper

    return decorate
