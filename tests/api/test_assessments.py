"""HR assessments and invitations, candidate endpoints, the server-side time limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import token_hash
from attempts.models import Assessment, IdempotencyRecord, Invitation
from questions.models import Question
from tests.factories import QuestionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def question_ids(seed_questions) -> list[int]:
    return [seed_questions[key].pk for key in ("大模型llms微调面/2", "大模型llms进阶面-2/1.1", "大模型llms微调面/1")]


@pytest.fixture
def assessment(hr_user, api_client, question_ids) -> dict:
    response = api_client(hr_user).post(
        "/api/v1/assessments/",
        {"title": "LLM 工程师初筛", "question_ids": question_ids, "time_limit_minutes": 30, "pass_score": 60},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def invitation(hr_user, api_client, assessment) -> dict:
    response = api_client(hr_user).post(
        f"/api/v1/assessments/{assessment['id']}/invitations/",
        {"candidate_name": "李雷", "candidate_email": "lilei@example.com"},
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_assessment_keeps_question_order(assessment, question_ids) -> None:
    assert [q["id"] for q in assessment["questions"]] == question_ids
    assert [q["position"] for q in assessment["questions"]] == [1, 2, 3]
    assert assessment["results_csv"] == f"/api/v1/assessments/{assessment['id']}/results.csv"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"question_ids": []}, "question_ids"),
        ({"question_ids": "1,2"}, "question_ids"),
        ({"question_ids": [999999]}, "question_ids"),
        ({"time_limit_minutes": 0}, "time_limit_minutes"),
        ({"time_limit_minutes": "soon"}, "time_limit_minutes"),
        ({"pass_score": 101}, "pass_score"),
    ],
)
def test_bad_assessments_answer_400(hr_user, api_client, question_ids, change, field) -> None:
    payload = {"title": "t", "question_ids": question_ids, "time_limit_minutes": 30, **change}
    response = api_client(hr_user).post("/api/v1/assessments/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Assessment.objects.exists()


def test_archived_duplicate_or_unpublished_questions_are_refused(hr_user, api_client, question_ids) -> None:
    client = api_client(hr_user)
    Question.objects.filter(pk=question_ids[0]).update(status="archived")
    draft_only = QuestionFactory()
    for ids in ([question_ids[0]], [question_ids[1], question_ids[1]], [draft_only.pk]):
        response = client.post(
            "/api/v1/assessments/", {"title": "t", "question_ids": ids, "time_limit_minutes": 5}, format="json"
        )
        assert response.status_code == 400
        assert "question_ids" in response.json()["errors"]


def test_invitation_returns_token_and_link_once_and_stores_only_the_hash(hr_user, api_client, invitation) -> None:
    token = invitation["token"]
    stored = Invitation.objects.get(pk=invitation["id"])
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash
    assert invitation["link"].endswith(f"/take/{token}/")
    assert invitation["api_url"].endswith(f"/api/v1/take/{token}/")
    assert invitation["status"] == "pending" and invitation["results"] is None
    detail = api_client(hr_user).get(f"/api/v1/invitations/{invitation['id']}/").json()
    assert "token" not in detail and token not in str(detail)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"candidate_email": "a@example.com"}, "candidate_name"),
        ({"candidate_name": "王", "candidate_email": "not-an-email"}, "candidate_email"),
        ({"candidate_name": "王", "candidate_email": "a@example.com", "expires_in_days": 0}, "expires_in_days"),
        ({"candidate_name": "王", "candidate_email": "a@example.com", "expires_in_days": 365}, "expires_in_days"),
    ],
)
def test_bad_invitations_answer_400(hr_user, api_client, assessment, payload, field) -> None:
    response = api_client(hr_user).post(f"/api/v1/assessments/{assessment['id']}/invitations/", payload)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_archived_assessment_accepts_no_invitations(hr_user, api_client, assessment) -> None:
    client = api_client(hr_user)
    assert client.delete(f"/api/v1/assessments/{assessment['id']}/").status_code == 204
    response = client.post(
        f"/api/v1/assessments/{assessment['id']}/invitations/",
        {"candidate_name": "王", "candidate_email": "a@example.com"},
    )
    assert response.status_code == 400 and response.json()["code"] == "archived"


def test_other_hr_users_get_404_on_everything(make_user, api_client, assessment, invitation) -> None:
    intruder = api_client(make_user("hr_b", roles=("hr",)))
    for url in (
        f"/api/v1/assessments/{assessment['id']}/",
        f"/api/v1/assessments/{assessment['id']}/invitations/",
        f"/api/v1/assessments/{assessment['id']}/results.csv",
        f"/api/v1/invitations/{invitation['id']}/",
    ):
        assert intruder.get(url).status_code == 404, url
    assert intruder.post(f"/api/v1/invitations/{invitation['id']}/revoke/").status_code == 404
    assert (
        intruder.post(
            f"/api/v1/assessments/{assessment['id']}/invitations/",
            {"candidate_name": "x", "candidate_email": "x@example.com"},
        ).status_code
        == 404
    )
    assert intruder.get("/api/v1/assessments/").json()["count"] == 0
    assert intruder.get("/api/v1/invitations/").json()["count"] == 0


def test_admin_sees_every_assessment(admin_user, api_client, assessment) -> None:
    assert api_client(admin_user).get(f"/api/v1/assessments/{assessment['id']}/").status_code == 200


# --- Idempotency ---------------------------------------------------------------------


def test_assessment_post_with_the_same_key_is_replayed(hr_user, api_client, question_ids) -> None:
    client = api_client(hr_user)
    payload = {"title": "幂等", "question_ids": question_ids, "time_limit_minutes": 10}
    first = client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and again["Location"] == first["Location"]
    assert Assessment.objects.count() == 1
    different = client.post(
        "/api/v1/assessments/", {**payload, "title": "其他"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert different.status_code == 422
    assert different.json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in different.json()["errors"]
    fresh = client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-2")
    assert fresh.status_code == 201 and Assessment.objects.count() == 2


def test_keys_belong_to_their_user(hr_user, make_user, api_client, question_ids) -> None:
    payload = {"title": "A", "question_ids": question_ids, "time_limit_minutes": 10}
    api_client(hr_user).post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = api_client(make_user("hr_b", roles=("hr",)))
    response = other.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Assessment.objects.count() == 2


def test_a_failed_validation_is_replayed_too_and_bad_keys_are_refused(hr_user, api_client) -> None:
    client = api_client(hr_user)
    bad = {"title": "", "question_ids": [], "time_limit_minutes": 10}
    first = client.post("/api/v1/assessments/", bad, format="json", HTTP_IDEMPOTENCY_KEY="v")
    again = client.post("/api/v1/assessments/", bad, format="json", HTTP_IDEMPOTENCY_KEY="v")
    assert first.status_code == again.status_code == 400 and again.json() == first.json()
    too_long = client.post("/api/v1/assessments/", bad, format="json", HTTP_IDEMPOTENCY_KEY="x" * 201)
    assert too_long.status_code == 400 and "Idempotency-Key" in too_long.json()["errors"]


def test_in_flight_key_answers_409(hr_user, api_client, question_ids) -> None:
    payload = {"title": "A", "question_ids": question_ids, "time_limit_minutes": 10}
    client = api_client(hr_user)
    client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    IdempotencyRecord.objects.filter(key="busy").update(response_status=None, response_body=None)
    response = client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409 and response.json()["code"] == "in_progress"


def test_invitation_replay_shows_the_same_token_without_storing_it(hr_user, api_client, assessment) -> None:
    client = api_client(hr_user)
    url = f"/api/v1/assessments/{assessment['id']}/invitations/"
    payload = {"candidate_name": "韩梅梅", "candidate_email": "hmm@example.com"}
    first = client.post(url, payload, HTTP_IDEMPOTENCY_KEY="inv-1").json()
    again = client.post(url, payload, HTTP_IDEMPOTENCY_KEY="inv-1")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["token"] == first["token"] and again.json()["link"] == first["link"]
    assert Invitation.objects.count() == 1
    record = IdempotencyRecord.objects.get(key="inv-1")
    assert first["token"] not in str(record.response_body)
    assert client.get(f"/api/v1/take/{first['token']}/").status_code == 200


# --- Candidate endpoints ---------------------------------------------------------------


def test_candidate_flow_until_submit(api_client, invitation, question_ids) -> None:
    candidate = api_client()
    base = f"/api/v1/take/{invitation['token']}/"
    overview = candidate.get(base).json()
    assert overview["status"] == "pending" and overview["questions"] == [] and overview["time_left_s"] is None
    assert overview["assessment"]["question_count"] == 3 and overview["candidate_name"] == "李雷"

    started = candidate.post(base + "start/").json()
    assert started["status"] == "started" and 1790 <= started["time_left_s"] <= 1800
    assert [q["id"] for q in started["questions"]] == question_ids

    saved = candidate.post(base + "answers/", {"question": question_ids[0], "answer": "SFT 是监督微调。"})
    assert saved.status_code == 200 and saved.json()["saved"] is True
    assert candidate.get(base).json()["questions"][0]["answer"] == "SFT 是监督微调。"
    cleared = candidate.post(base + "answers/", {"question": question_ids[0], "answer": "  "})
    assert cleared.json()["saved"] is False
    assert candidate.get(base).json()["questions"][0]["answer"] == ""


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"answer": "x"}, "question"),
        ({"question": "one", "answer": "x"}, "question"),
        ({"question": 999999, "answer": "x"}, "question"),
        ({"question": None, "answer": "x"}, "question"),
        ({"answer": "x" * 20_001, "question": 1}, "answer"),
        ({"question": 1, "answer": 5}, "answer"),
    ],
)
def test_bad_candidate_answers_answer_400(api_client, invitation, payload, field) -> None:
    response = api_client().post(f"/api/v1/take/{invitation['token']}/answers/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_answers_after_the_deadline_are_refused(api_client, invitation, question_ids) -> None:
    candidate = api_client()
    base = f"/api/v1/take/{invitation['token']}/"
    candidate.post(base + "start/")
    Invitation.objects.filter(pk=invitation["id"]).update(started_at=timezone.now() - timedelta(minutes=31))
    response = candidate.post(base + "answers/", {"question": question_ids[0], "answer": "太晚了"})
    assert response.status_code == 400 and response.json()["code"] == "time_up"
    assert candidate.get(base).json()["time_left_s"] == 0


def test_unknown_expired_and_revoked_links(hr_user, api_client, invitation) -> None:
    candidate = api_client()
    unknown = candidate.get("/api/v1/take/not-a-real-token/")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert candidate.post("/api/v1/take/not-a-real-token/answers/", {"question": 1, "answer": "x"}).status_code == 404
    base = f"/api/v1/take/{invitation['token']}/"
    Invitation.objects.filter(pk=invitation["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = candidate.get(base)
    assert expired.status_code == 400 and expired.json()["code"] == "expired" and "token" in expired.json()["errors"]
    Invitation.objects.filter(pk=invitation["id"]).update(expires_at=timezone.now() + timedelta(days=1))
    assert api_client(hr_user).post(f"/api/v1/invitations/{invitation['id']}/revoke/").status_code == 200
    revoked = candidate.post(base + "start/")
    assert revoked.status_code == 400 and revoked.json()["code"] == "revoked"


def test_submit_before_start_is_refused(api_client, invitation) -> None:
    response = api_client().post(f"/api/v1/take/{invitation['token']}/submit/")
    assert response.status_code == 400 and response.json()["code"] == "not_started"


def test_candidate_endpoints_ignore_credentials_and_are_throttled(api_client, invitation, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "candidate": "2/min"},
    }
    candidate = api_client()
    candidate.credentials(HTTP_AUTHORIZATION="Token garbage")
    base = f"/api/v1/take/{invitation['token']}/"
    assert [candidate.get(base).status_code for _ in range(3)] == [200, 200, 429]


def test_hr_endpoints_are_throttled_per_token(hr_user, api_client, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "hr": "2/min"},
    }
    first_tool, second_tool = api_client(hr_user), api_client(hr_user)
    assert [first_tool.get("/api/v1/assessments/").status_code for _ in range(3)] == [200, 200, 429]
    assert second_tool.get("/api/v1/assessments/").status_code == 200  # another token, its own budget


def test_error_reports_are_throttled_per_user(trainee, api_client, seed_questions, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "error_report": "1/hour"},
    }
    client = api_client(trainee)
    url = f"/api/v1/questions/{seed_questions['大模型llms微调面/2'].pk}/errata/"
    assert client.post(url, {"quote": "稀疏特征", "explanation": "SFT 是监督微调。"}).status_code == 201
    assert client.post(url, {"quote": "另一处", "explanation": "也不对的地方。"}).status_code == 429


def test_expired_idempotency_keys_are_forgotten(hr_user, api_client, question_ids) -> None:
    from datetime import timedelta as delta

    client = api_client(hr_user)
    payload = {"title": "A", "question_ids": question_ids, "time_limit_minutes": 10}
    client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - delta(hours=25))
    response = client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Assessment.objects.count() == 2 and IdempotencyRecord.objects.count() == 1
