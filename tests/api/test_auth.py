"""Tokens: issued for a username and password, stored hashed, expiring, revocable, throttled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import token_hash
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_token_issued_for_valid_credentials_and_stored_hashed(trainee) -> None:
    response = APIClient().post("/api/v1/auth/token/", {"username": trainee.username, "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "token_type", "expires_at"}
    stored = ApiToken.objects.get(user=trainee)
    assert stored.key_hash == token_hash(body["token"])
    assert body["token"] not in (stored.key_hash, stored.prefix)
    assert stored.expires_at > timezone.now() + timedelta(days=29)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/v1/me/").json()["username"] == trainee.username


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "trainee_a", "password": "wrong"}, "non_field_errors"),
        ({"username": "nobody", "password": PASSWORD}, "non_field_errors"),
        ({"username": "trainee_a"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": ["a"], "password": PASSWORD}, "username"),
    ],
)
def test_bad_credentials_answer_400_with_field_messages(trainee, payload: dict, field: str) -> None:
    response = APIClient().post("/api/v1/auth/token/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ApiToken.objects.exists()


def test_inactive_user_gets_no_token(trainee) -> None:
    trainee.is_active = False
    trainee.save()
    response = APIClient().post("/api/v1/auth/token/", {"username": trainee.username, "password": PASSWORD})
    assert response.status_code == 400


def test_delete_revokes_the_token_used(trainee, api_client) -> None:
    client = api_client(trainee)
    other = api_client(trainee)
    assert client.delete("/api/v1/auth/token/").status_code == 204
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert other.get("/api/v1/me/").status_code == 200  # only the token used is revoked


def test_delete_without_a_token_is_a_clear_400(trainee, login) -> None:
    assert APIClient().delete("/api/v1/auth/token/").status_code == 401
    client = APIClient()
    client.force_login(trainee)
    response = client.delete("/api/v1/auth/token/")
    assert response.status_code == 400
    assert "Authorization" in response.json()["errors"]


def test_expired_token_is_refused(trainee, api_client) -> None:
    client = api_client(trainee)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me/").status_code == 401


def test_token_endpoint_is_throttled_with_a_json_429(trainee) -> None:
    rates = {"token": "3/min", "attempt_submit": "30/min", "hr": "600/hour", "candidate": "120/min"}
    with override_settings(REST_FRAMEWORK={**_rest_settings(), "DEFAULT_THROTTLE_RATES": rates}):
        client = APIClient()
        codes = [
            client.post("/api/v1/auth/token/", {"username": trainee.username, "password": "nope"}).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        response = client.post("/api/v1/auth/token/", {"username": trainee.username, "password": PASSWORD})
        assert response.status_code == 429
        assert response.json()["code"] == "throttled"
        assert response.json()["retry_after_s"] > 0


def test_session_authentication_requires_csrf_for_writes(trainee, seed_questions) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(trainee)
    assert client.get("/api/v1/me/").status_code == 200
    response = client.post("/api/v1/attempts/", {"question": 1, "answer": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def _rest_settings() -> dict:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)
