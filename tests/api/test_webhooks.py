"""Webhook endpoints (register, list, delete, deliveries) and signed delivery with retries."""

from __future__ import annotations

import time
import urllib.request
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from attempts.models import WebhookDelivery, WebhookEndpoint
from attempts.webhooks import (
    webhook_body,
    webhook_deliveries_due,
    webhook_delivery_attempt,
    webhook_event_emit,
    webhook_signature,
)
from tests.api.webhook_receiver import WebhookReceiver, start_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    server, url = start_receiver(receiver)
    receiver.url = url
    yield receiver
    server.shutdown()
    server.server_close()


def test_register_returns_secret_once_and_lists_a_hint(hr_user, api_client, receiver) -> None:
    client = api_client(hr_user)
    response = client.post(
        "/api/v1/webhooks/", {"url": receiver.url, "events": ["invitation.completed"], "description": "ATS"}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert listed[0]["id"] == created["id"]
    assert "secret" not in listed[0] and listed[0]["secret_hint"] == "…" + created["secret"][-4:]
    detail = client.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in detail


def test_register_with_own_secret_and_default_event(hr_user, api_client, receiver) -> None:
    response = api_client(hr_user).post("/api/v1/webhooks/", {"url": receiver.url, "secret": "s" * 20})
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == "s" * 20 and endpoint.events == ["invitation.completed"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({}, "url"),
        ({"url": "https://example.com/h", "events": ["attempt.created"]}, "events.0"),
        ({"url": "https://example.com/h", "events": "invitation.completed"}, "events"),
        ({"url": "https://example.com/h", "secret": "short"}, "secret"),
    ],
)
def test_bad_registrations_answer_400(hr_user, api_client, payload, field) -> None:
    response = api_client(hr_user).post("/api/v1/webhooks/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/h",
        "http://localhost/h",
        "http://10.1.2.3/h",
        "http://192.168.0.10/h",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/h",
        "http://0.0.0.0/h",
    ],
)
def test_private_targets_are_refused_unless_allowed(hr_user, api_client, url) -> None:
    response = api_client(hr_user).post("/api/v1/webhooks/", {"url": url})
    assert response.status_code == 400
    assert response.json()["code"] == "private_target"
    assert "url" in response.json()["errors"]


def test_delete_and_other_owners_get_404(hr_user, make_user, api_client, receiver) -> None:
    other_hr = make_user("hr_b", roles=("hr",))
    endpoint_id = api_client(hr_user).post("/api/v1/webhooks/", {"url": receiver.url}).json()["id"]
    intruder = api_client(other_hr)
    assert intruder.get(f"/api/v1/webhooks/{endpoint_id}/").status_code == 404
    assert intruder.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 404
    assert intruder.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/").status_code == 404
    assert intruder.get("/api/v1/webhooks/").json()["count"] == 0
    owner = api_client(hr_user)
    assert owner.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 204
    assert owner.get(f"/api/v1/webhooks/{endpoint_id}/").status_code == 404


def _endpoint(hr_user, receiver: WebhookReceiver) -> WebhookEndpoint:
    receiver.secret = "receiver-secret-0123456789"
    return WebhookEndpoint.objects.create(
        owner=hr_user, url=receiver.url, secret=receiver.secret, events=["invitation.completed"]
    )


@override_settings(WEBHOOK_RETRY_BACKOFF_SECONDS=0)
def test_signed_delivery_retries_after_failure_and_logs_each_try(hr_user, api_client, receiver) -> None:
    endpoint = _endpoint(hr_user, receiver)
    receiver.fail_first = 1
    (delivery,) = webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={"invitation": {"id": 7}})

    first = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert first.status == "pending" and first.attempts == 1 and first.last_status_code == 500
    assert "HTTP 500" in first.last_error and first.next_attempt_at is not None
    assert webhook_deliveries_due(now=first.next_attempt_at + timedelta(seconds=1)) == [delivery.pk]

    second = webhook_delivery_attempt(delivery_id=delivery.pk, now=first.next_attempt_at + timedelta(seconds=1))
    assert second.status == "succeeded" and second.attempts == 2 and second.last_status_code == 200
    assert [r.status for r in receiver.requests] == [500, 200]
    request = receiver.requests[-1]
    assert request.headers["X-Event"] == "invitation.completed"
    assert request.headers["X-Event-Id"] == str(delivery.event_id)
    assert request.headers["X-Signature"] == webhook_signature(
        secret=receiver.secret, timestamp=request.headers["X-Timestamp"], body=request.body
    )
    assert request.json["data"] == {"invitation": {"id": 7}} and request.json["type"] == "invitation.completed"

    log = api_client(hr_user).get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert log[0]["status"] == "succeeded" and log[0]["attempts"] == 2 and log[0]["last_status_code"] == 200


def test_receiver_rejects_replayed_and_stale_requests(hr_user, receiver) -> None:
    _endpoint(hr_user, receiver)
    (delivery,) = webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={})
    assert webhook_delivery_attempt(delivery_id=delivery.pk).status == "succeeded"
    captured = receiver.requests[-1]

    def send(headers: dict[str, str], body: bytes) -> int:
        request = urllib.request.Request(receiver.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    replay_headers = {k: v for k, v in captured.headers.items() if k.startswith("X-") or k == "Content-Type"}
    assert send(replay_headers, captured.body) == 409  # the same signed request again
    tampered = captured.body.replace(b'"data":{}', b'"data":{"x":1}')
    assert send(replay_headers, tampered) == 401
    stale = str(int(time.time()) - 3600)
    stale_headers = {
        **replay_headers,
        "X-Timestamp": stale,
        "X-Signature": webhook_signature(secret=receiver.secret, timestamp=stale, body=captured.body),
    }
    assert send(stale_headers, captured.body) == 401
    assert len(receiver.accepted_events) == 1


@override_settings(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_RETRY_BACKOFF_SECONDS=0)
def test_delivery_gives_up_after_max_attempts(hr_user, receiver) -> None:
    _endpoint(hr_user, receiver)
    receiver.fail_first = 5
    (delivery,) = webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={})
    webhook_delivery_attempt(delivery_id=delivery.pk)
    later = timezone.now() + timedelta(minutes=1)
    final = webhook_delivery_attempt(delivery_id=delivery.pk, now=later)
    assert final.status == "failed" and final.attempts == 2 and final.next_attempt_at is None
    assert webhook_delivery_attempt(delivery_id=delivery.pk, now=later) is None
    assert webhook_deliveries_due(now=later + timedelta(days=1)) == []


def test_unreachable_target_is_recorded_as_an_error(hr_user) -> None:
    endpoint = WebhookEndpoint.objects.create(
        owner=hr_user, url="http://127.0.0.1:9/nothing", secret="x" * 20, events=["invitation.completed"]
    )
    (delivery,) = webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={})
    result = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert result.status == "pending" and result.last_status_code is None
    assert result.last_error
    assert endpoint.deliveries.count() == 1


def test_a_claimed_delivery_is_not_sent_twice(hr_user, receiver) -> None:
    _endpoint(hr_user, receiver)
    (delivery,) = webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={})
    # Another worker holds the lease: the delivery's next attempt is in the future.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert receiver.requests == []


def test_only_subscribed_active_endpoints_of_the_owner_get_the_event(hr_user, make_user, receiver) -> None:
    other = make_user("hr_b", roles=("hr",))
    _endpoint(hr_user, receiver)
    WebhookEndpoint.objects.create(owner=other, url=receiver.url, secret="y" * 20, events=["invitation.completed"])
    WebhookEndpoint.objects.create(owner=hr_user, url=receiver.url, secret="z" * 20, events=[])
    WebhookEndpoint.objects.create(
        owner=hr_user, url=receiver.url, secret="w" * 20, events=["invitation.completed"], is_active=False
    )
    deliveries = webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={})
    assert len(deliveries) == 1


def test_body_is_compact_sorted_utf8_json() -> None:
    assert webhook_body({"b": "显存", "a": 1}) == '{"a":1,"b":"显存"}'.encode()
