"""Signed webhooks: endpoints, events, deliveries with retries and a delivery log.

Signing: every request carries ``X-Timestamp`` (Unix seconds, set at each send) and
``X-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" with the endpoint's
secret>``, plus ``X-Event`` and ``X-Event-Id`` (the same id on every retry, for
de-duplication). A receiver recomputes the HMAC over the raw body, compares in constant
time and rejects timestamps older than a few minutes, so a captured request cannot be
replayed later (``webhook_signature_verify`` does exactly this).

Delivery protocol (at-least-once):
1. ``webhook_event_emit`` writes one pending delivery per subscribed endpoint inside the
   caller's transaction and sends ``deliver_webhook`` on commit.
2. ``webhook_delivery_attempt`` claims the delivery with a conditional update that moves
   ``next_attempt_at`` forward by a lease, so a duplicate task or the periodic sweep does
   nothing while a send is in flight; the HTTP request is made outside any transaction.
3. A 2xx marks it delivered. Anything else (non-2xx, timeout, refused connection,
   private target) records the status or error and schedules the next try with
   exponential backoff, until ``WEBHOOK_MAX_ATTEMPTS``, then marks it failed.
4. ``webhook_deliveries_retry_due`` (Celery beat, every minute) re-sends every pending
   delivery whose time has come, so a lost task or a broker outage delays but never
   loses an event.

Targets on loopback, private, link-local or reserved addresses are refused (at
registration and again before each send) unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS``.
Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from attempts.models import WebhookDelivery, WebhookEndpoint
from interview_platform.errors import ServiceError

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
MAX_ENDPOINTS_PER_OWNER = 20
MAX_BACKOFF_SECONDS = 6 * 3600
USER_AGENT = "interview-platform-webhooks/1.0"
EVENTS = tuple(WebhookEndpoint.Event.values)


# --- Signing -------------------------------------------------------------------------


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a payload: compact, sorted, UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def webhook_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_verify(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: a valid HMAC over ``timestamp.body`` and a recent timestamp."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - sent_at) > tolerance_s:
        return False
    expected = webhook_signature(secret=secret, timestamp=sent_at, body=body)
    return hmac.compare_digest(expected, signature or "")


# --- Targets -------------------------------------------------------------------------


def _address_is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified


def webhook_target_check(*, url: str) -> None:
    """Refuse URLs that are malformed or resolve to a private address (unless allowed).

    Raises ServiceError with a ``url`` field error.
    """
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        raise ServiceError(
            _("The webhook URL is not valid."), field_errors={"url": [_("Enter a valid http(s) URL.")]}
        ) from None
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ServiceError(
            _("The webhook host does not resolve."), field_errors={"url": [_("The host name does not resolve.")]}
        ) from None
    if any(_address_is_private(info[4][0]) for info in infos):
        raise ServiceError(
            _("Webhooks cannot target private or loopback addresses."),
            code="private_target",
            field_errors={"url": [_("The host resolves to a private, loopback or reserved address.")]},
        )


# --- Endpoints -----------------------------------------------------------------------


def webhook_endpoint_create(
    *,
    owner: AbstractBaseUser,
    url: str,
    events: list[str] | None = None,
    secret: str | None = None,
    description: str = "",
) -> WebhookEndpoint:
    """Register an endpoint. Without a secret one is generated; the caller shows it once."""
    url = (url or "").strip()
    webhook_target_check(url=url)
    events = list(dict.fromkeys(events or [WebhookEndpoint.Event.INVITATION_COMPLETED]))
    unknown = [event for event in events if event not in EVENTS]
    if unknown:
        raise ServiceError(
            _("Unknown event."),
            field_errors={
                "events": [
                    _("Unknown event %(event)s; known: %(known)s.")
                    % {
                        "event": unknown[0],
                        "known": ", ".join(EVENTS),
                    }
                ]
            },
        )
    if secret is not None and not 16 <= len(secret) <= 128:
        raise ServiceError(
            _("The secret must be 16 to 128 characters."), field_errors={"secret": [_("16 to 128 characters.")]}
        )
    if WebhookEndpoint.objects.filter(owner=owner).count() >= MAX_ENDPOINTS_PER_OWNER:
        raise ServiceError(
            _("At most %(max)d webhook endpoints per account.") % {"max": MAX_ENDPOINTS_PER_OWNER}, code="limit"
        )
    return WebhookEndpoint.objects.create(
        owner=owner,
        url=url,
        events=events,
        secret=secret or f"whsec_{secrets.token_urlsafe(32)}",
        description=(description or "")[:200],
    )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_endpoints_for_user(*, user: AbstractBaseUser, all_owners: bool = False) -> QuerySet[WebhookEndpoint]:
    queryset = WebhookEndpoint.objects.select_related("owner")
    return queryset if all_owners else queryset.filter(owner=user)


# --- Events and deliveries -----------------------------------------------------------


def webhook_event_emit(*, event: str, owner_id: int, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue ``event`` for every active endpoint of ``owner_id`` subscribed to it.

    Runs in the caller's transaction; the deliveries are sent after it commits.
    """
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), "type": event, "created_at": timezone.now().isoformat(), "data": data}
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(owner_id=owner_id, is_active=True)
        if event in (endpoint.events or [])
    ]
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, event_id=event_id, event=event, payload=payload) for endpoint in endpoints
    )
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: [deliver_webhook.delay(delivery_id) for delivery_id in ids])
    return deliveries


def _backoff_seconds(attempts: int) -> float:
    base = settings.WEBHOOK_RETRY_BACKOFF_SECONDS * (2 ** max(0, attempts - 1))
    return min(MAX_BACKOFF_SECONDS, base * (1 + random.random() * 0.1))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _send(*, url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str]:
    """POST and return (status, error). Raises nothing; errors are returned as text."""
    try:
        webhook_target_check(url=url)
    except ServiceError as error:
        return None, error.message
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        snippet = error.read(500).decode("utf-8", "replace") if error.fp else ""
        return error.code, f"HTTP {error.code}: {snippet}".strip()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, f"{type(error).__name__}: {reason}"


def webhook_delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Try one delivery now. Returns the delivery, or None when another worker holds it."""
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3)
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=lease_until, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.last_error = "The endpoint is disabled."
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
        return delivery
    body = webhook_body(delivery.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Event": delivery.event,
        "X-Event-Id": str(delivery.event_id),
        "X-Timestamp": timestamp,
        "X-Signature": webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body),
        "X-Delivery-Attempt": str(delivery.attempts),
    }
    status, error = _send(url=endpoint.url, headers=headers, body=body)
    finished_at = timezone.now()
    delivery.last_status_code = status
    if status is not None and 200 <= status < 300:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = finished_at
        delivery.next_attempt_at = None
        delivery.last_error = ""
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
        delivery.last_error = error or f"HTTP {status}"
    else:
        delivery.next_attempt_at = finished_at + timedelta(seconds=_backoff_seconds(delivery.attempts))
        delivery.last_error = error or f"HTTP {status}"
    delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_error", "last_status_code"])
    logger.info(
        "webhook delivery %s to %s: attempt %s, status %s, %s",
        delivery.pk,
        endpoint.url,
        delivery.attempts,
        status,
        delivery.status,
    )
    return delivery


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def webhook_deliveries_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.order_by("-created_at", "-id")


@shared_task(name="attempts.webhooks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    if delivery is not None and delivery.status == WebhookDelivery.Status.PENDING and delivery.next_attempt_at:
        # Retry without waiting for the periodic sweep; the claim makes a double send harmless.
        countdown = max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds())
        deliver_webhook.apply_async(args=[delivery_id], countdown=countdown)


@shared_task(name="attempts.webhooks.webhook_deliveries_retry_due", ignore_result=True)
def webhook_deliveries_retry_due() -> int:
    ids = webhook_deliveries_due()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)
