"""Submitting attempts: 202 + Location, validation, idempotency, throttling, retry and regrade."""

from __future__ import annotations

import pytest

from attempts.models import Attempt, Grade
from attempts.tasks import grade_attempt
from questions.models import Question
from tests.factories import AttemptFactory, GradeFactory, QuestionFactory

pytestmark = pytest.mark.django_db

ANSWER = "SFT 是监督微调（Supervised Fine-Tuning）：在预训练模型上用人工标注的指令-回答数据继续训练。"


@pytest.fixture
def question(seed_questions) -> Question:
    return seed_questions["大模型llms微调面/2"]


def test_submit_answers_202_with_location_then_the_grade_appears(trainee, api_client, question) -> None:
    client = api_client(trainee)
    response = client.post("/api/v1/attempts/", {"question": question.pk, "answer": ANSWER, "time_spent_s": 95})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["grade"] is None and body["time_spent_s"] == 95
    assert response["Location"] == f"/api/v1/attempts/{body['id']}/"
    assert body["reference_version"] == 1 and body["mode"] == "practice"

    assert grade_attempt.apply(args=[body["id"]]).get() == "graded"  # the real task, run here
    graded = client.get(response["Location"]).json()
    assert graded["status"] == "graded"
    grade = graded["grade"]
    assert 0 <= grade["score"] <= 100 and grade["grader"]["name"] == "offline"
    assert grade["grader"]["reference_version"] == 1 and grade["feedback"]
    assert all(set(point) == {"point", "covered", "evidence"} for point in grade["key_points"])
    # …and the reference answer is now visible to the trainee.
    assert client.get(f"/api/v1/questions/{question.pk}/").json()["reference"] is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": "{q}"}, "answer"),
        ({"question": "{q}", "answer": ""}, "answer"),
        ({"question": "{q}", "answer": "   \n "}, "answer"),
        ({"question": "{q}", "answer": "长" * 20_001}, "answer"),
        ({"question": "{q}", "answer": 42}, "answer"),
        ({"question": "{q}", "answer": ["a"]}, "answer"),
        ({"answer": ANSWER}, "question"),
        ({"question": "abc", "answer": ANSWER}, "question"),
        ({"question": 99_999_999, "answer": ANSWER}, "question"),
        ({"question": 10**30, "answer": ANSWER}, "question"),
        ({"question": "{q}", "answer": ANSWER, "time_spent_s": -1}, "time_spent_s"),
        ({"question": "{q}", "answer": ANSWER, "time_spent_s": "long"}, "time_spent_s"),
    ],
)
def test_bad_submissions_answer_400_with_the_field(trainee, api_client, question, payload, field) -> None:
    payload = {key: question.pk if value == "{q}" else value for key, value in payload.items()}
    response = api_client(trainee).post("/api/v1/attempts/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Attempt.objects.exists()


def test_an_answer_of_exactly_20000_characters_is_accepted(trainee, api_client, question) -> None:
    response = api_client(trainee).post("/api/v1/attempts/", {"question": question.pk, "answer": "长" * 20_000})
    assert response.status_code == 202


def test_archived_or_unpublished_questions_are_refused(trainee, api_client, question) -> None:
    Question.objects.filter(pk=question.pk).update(status="archived")
    archived = api_client(trainee).post("/api/v1/attempts/", {"question": question.pk, "answer": ANSWER})
    assert archived.status_code == 400 and "question" in archived.json()["errors"]
    english = api_client(trainee).post(
        "/api/v1/attempts/", {"question": question.pk, "answer": ANSWER}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "archived" in english.json()["errors"]["question"][0]
    draft_only = QuestionFactory()
    unpublished = api_client(trainee).post("/api/v1/attempts/", {"question": draft_only.pk, "answer": ANSWER})
    assert unpublished.status_code == 400 and "question" in unpublished.json()["errors"]


def test_idempotency_key_returns_the_first_attempt(trainee, other_trainee, api_client, question) -> None:
    client = api_client(trainee)
    payload = {"question": question.pk, "answer": ANSWER}
    first = client.post("/api/v1/attempts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="retry-7")
    again = client.post("/api/v1/attempts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="retry-7")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Attempt.objects.count() == 1
    changed = client.post(
        "/api/v1/attempts/", {**payload, "answer": "另一个答案"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-7"
    )
    assert changed.status_code == 422
    other = api_client(other_trainee).post("/api/v1/attempts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="retry-7")
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert client.post("/api/v1/attempts/", payload, format="json").json()["id"] != first.json()["id"]


def test_submission_is_throttled_per_user(trainee, other_trainee, api_client, question, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "attempt_submit": "2/min"},
    }
    client = api_client(trainee)
    payload = {"question": question.pk, "answer": ANSWER}
    codes = [client.post("/api/v1/attempts/", payload).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert client.get("/api/v1/attempts/").status_code == 200  # reading is not throttled
    assert api_client(other_trainee).post("/api/v1/attempts/", payload).status_code == 202


def test_owner_retries_a_failed_attempt(trainee, api_client, question) -> None:
    failed = AttemptFactory(user=trainee, question=question, status=Attempt.Status.FAILED, error_message="超时")
    client = api_client(trainee)
    response = client.post(f"/api/v1/attempts/{failed.pk}/retry/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.json()["error"] == ""
    again = client.post(f"/api/v1/attempts/{failed.pk}/retry/")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


def test_expert_regrades_a_graded_attempt_and_history_is_kept(trainee, expert, api_client, question) -> None:
    attempt = GradeFactory(attempt__user=trainee, attempt__question=question, score=12).attempt
    response = api_client(expert).post(f"/api/v1/attempts/{attempt.pk}/regrade/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.json()["grade"]["score"] == 12  # the current grade stays until the new one is in
    assert api_client(expert).post(f"/api/v1/attempts/{attempt.pk}/regrade/").status_code == 409
    assert grade_attempt.apply(args=[attempt.pk]).get() == "graded"
    old, new = Grade.objects.filter(attempt=attempt).order_by("id")
    assert old.score == 12 and not old.is_current and new.is_current and new.grader == "offline"
    current = api_client(trainee).get(f"/api/v1/attempts/{attempt.pk}/").json()
    assert current["status"] == "graded" and current["grade"]["score"] == new.score


def test_trainee_cannot_regrade(trainee, api_client, question) -> None:
    attempt = GradeFactory(attempt__user=trainee, attempt__question=question).attempt
    assert api_client(trainee).post(f"/api/v1/attempts/{attempt.pk}/regrade/").status_code == 403
