"""Every error is JSON with a readable message: 400 (with field errors), 401, 403, 404, 405, 415."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_a_json_404(trainee, api_client) -> None:
    response = api_client(trainee).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
    assert api_client().get("/api/v1/questions").status_code == 404  # no slash: still JSON
    assert api_client().get("/api/v1/questions").json()["code"] == "not_found"


def test_wrong_method_is_a_json_405(trainee, api_client) -> None:
    response = api_client(trainee).delete("/api/v1/topics/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_a_400_with_a_message(trainee, api_client, seed_questions) -> None:
    response = api_client(trainee).post(
        "/api/v1/attempts/", data='{"question": 1, "answer": ', content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error" and "JSON" in body["detail"] and body["errors"]["non_field_errors"]


def test_unsupported_media_type_is_a_json_415(trainee, api_client) -> None:
    response = api_client(trainee).post("/api/v1/attempts/", data="question=1", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_unauthenticated_and_forbidden_are_json(trainee, api_client) -> None:
    anonymous = api_client().get("/api/v1/attempts/")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Token"
    forbidden = api_client(trainee).get("/api/v1/assessments/")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "permission_denied"
