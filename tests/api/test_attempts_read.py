"""Reading attempts: own only (staff all), 404 for others', grade shape, constant query counts."""

from __future__ import annotations

import pytest

from attempts.models import Attempt
from tests.factories import AttemptFactory, GradeFactory, PublishedQuestionFactory

pytestmark = pytest.mark.django_db


def _graded(user, **grade_fields):
    grade = GradeFactory(
        attempt__user=user,
        key_points=[
            {"point": "SFT 是监督微调", "covered": True, "evidence": "SFT 是监督微调"},
            {"point": "使用标注数据", "covered": False, "evidence": ""},
        ],
        misconceptions=[{"misconception": "SFT 是稀疏特征训练", "evidence": "稀疏特征"}],
        model="qwen2.5",
        prompt_version="grader-v3",
        **grade_fields,
    )
    return grade.attempt


def test_graded_attempt_shows_grade_with_key_points_and_provenance(trainee, api_client) -> None:
    attempt = _graded(trainee, score=64)
    body = api_client(trainee).get(f"/api/v1/attempts/{attempt.pk}/").json()
    assert body["status"] == "graded" and body["error"] == ""
    grade = body["grade"]
    assert grade["score"] == 64
    assert grade["key_points"][0] == {"point": "SFT 是监督微调", "covered": True, "evidence": "SFT 是监督微调"}
    assert grade["misconceptions"] == [{"misconception": "SFT 是稀疏特征训练", "evidence": "稀疏特征"}]
    assert grade["grader"] == {
        "name": "offline",
        "model": "qwen2.5",
        "prompt_version": "grader-v3",
        "kind": "auto",
        "reference_version": 1,
    }
    assert body["reference_version"] == 1 and body["question"]["id"] == attempt.question_id


def test_queued_and_failed_attempts_have_no_grade(trainee, api_client) -> None:
    queued = AttemptFactory(user=trainee)
    failed = AttemptFactory(user=trainee, status=Attempt.Status.FAILED, error_message="模型服务不可用")
    client = api_client(trainee)
    assert client.get(f"/api/v1/attempts/{queued.pk}/").json()["grade"] is None
    body = client.get(f"/api/v1/attempts/{failed.pk}/").json()
    assert body["status"] == "failed" and body["error"] == "模型服务不可用" and body["grade"] is None


def test_another_users_attempt_is_404_everywhere(trainee, other_trainee, hr_user, team_lead, api_client) -> None:
    attempt = _graded(other_trainee)
    for user in (trainee, hr_user, team_lead):
        client = api_client(user)
        for method, url in (
            ("get", f"/api/v1/attempts/{attempt.pk}/"),
            ("post", f"/api/v1/attempts/{attempt.pk}/retry/"),
        ):
            response = getattr(client, method)(url)
            assert response.status_code == 404, (user, url)
            assert response.json() == client.get("/api/v1/attempts/999999999/").json()  # indistinguishable
        assert client.get("/api/v1/attempts/").json()["count"] == 0
        assert client.get("/api/v1/attempts/", {"user": other_trainee.pk}).json()["count"] == 0


def test_staff_read_everyones_attempts_and_filter_by_user(trainee, other_trainee, expert, api_client) -> None:
    _graded(trainee)
    _graded(other_trainee)
    client = api_client(expert)
    assert client.get("/api/v1/attempts/").json()["count"] == 2
    only = client.get("/api/v1/attempts/", {"user": trainee.pk}).json()
    assert only["count"] == 1 and only["results"][0]["user"] == trainee.username


def test_list_filters_and_orders(trainee, api_client) -> None:
    question = PublishedQuestionFactory()
    first = AttemptFactory(user=trainee, question=question)
    AttemptFactory(user=trainee, status=Attempt.Status.FAILED)
    client = api_client(trainee)
    assert [a["id"] for a in client.get("/api/v1/attempts/", {"question": question.pk}).json()["results"]] == [first.pk]
    assert client.get("/api/v1/attempts/", {"status": "failed"}).json()["count"] == 1
    assert client.get("/api/v1/attempts/", {"status": "exploded"}).status_code == 400
    ids = [a["id"] for a in client.get("/api/v1/attempts/", {"ordering": "created_at"}).json()["results"]]
    assert ids == sorted(ids)


def test_attempt_list_makes_a_constant_number_of_queries(
    trainee, expert, api_client, django_assert_max_num_queries
) -> None:
    for _ in range(3):
        _graded(trainee)
    client = api_client(trainee)
    staff = api_client(expert)
    with django_assert_max_num_queries(8) as few:
        client.get("/api/v1/attempts/")
    for _ in range(25):
        _graded(trainee)
        AttemptFactory(user=trainee)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/attempts/", {"page_size": 100}).json()["count"] == 53
    with django_assert_max_num_queries(len(few.captured_queries) + 1):
        staff.get("/api/v1/attempts/", {"page_size": 100})


def test_reviews_due_list_is_constant_in_queries(trainee, api_client, django_assert_max_num_queries) -> None:
    from tests.factories import ReviewStateFactory

    for _ in range(20):
        ReviewStateFactory(user=trainee)
    with django_assert_max_num_queries(7):
        body = api_client(trainee).get("/api/v1/reviews/due/").json()
    assert body["count"] == 20 and set(body["results"][0]) >= {"question", "due", "reps", "last_rating"}


def test_progress_endpoint_reports_topics_and_grades(trainee, api_client) -> None:
    _graded(trainee, score=90)
    body = api_client(trainee).get("/api/v1/me/progress/").json()
    assert body["attempts_total"] == 1 and body["graded_total"] == 1
    assert body["recent_grades"][0]["score"] == 90
