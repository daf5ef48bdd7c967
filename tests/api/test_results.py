"""Invitation results, completion (once) with the webhook event, CSV export, query counts."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from attempts.assessments import invitation_attempt_finished, invitation_create, invitation_results
from attempts.models import Attempt, Invitation, WebhookDelivery, WebhookEndpoint
from tests.factories import (
    AssessmentFactory,
    AssessmentQuestionFactory,
    AttemptFactory,
    GradeFactory,
)

pytestmark = pytest.mark.django_db


def _submitted_invitation(hr_user, *, name: str = "李雷", scores=(80, 50), statuses=None, questions: int = 3):
    """An invitation submitted with attempts on the first len(scores) questions; the rest blank."""
    assessment = AssessmentFactory(owner=hr_user, pass_score=60)
    items = [AssessmentQuestionFactory(assessment=assessment, position=i + 1) for i in range(questions)]
    invitation, _token = invitation_create(
        assessment=assessment, candidate_name=name, candidate_email="c@example.com", created_by=hr_user
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        status=Invitation.Status.SUBMITTED, started_at=timezone.now(), submitted_at=timezone.now()
    )
    statuses = statuses or ["graded"] * len(scores)
    for item, score, status in zip(items, scores, statuses, strict=False):
        attempt = AttemptFactory(
            user=None,
            invitation=invitation,
            mode=Attempt.Mode.ASSESSMENT,
            question=item.question,
            status=status,
            error_message="提供方错误" if status == "failed" else "",
        )
        if status == "graded":
            GradeFactory(attempt=attempt, score=score, feedback=f"得分 {score}")
    invitation.refresh_from_db()
    return invitation


def test_results_count_blank_and_failed_questions_as_zero(hr_user) -> None:
    invitation = _submitted_invitation(hr_user, scores=(80, 50))
    results = invitation_results(invitation=invitation)
    assert results["total"] == 43 and results["complete"] is False and results["passed"] is None
    rows = results["questions"]
    assert [row["score"] for row in rows] == [80, 50, 0]
    assert [row["answered"] for row in rows] == [True, True, False]
    assert rows[2]["status"] == "unanswered" and rows[2]["grader"] is None
    assert rows[0]["grader"]["name"] == "offline" and rows[0]["feedback"] == "得分 80"


def test_completion_happens_once_and_queues_the_webhook(hr_user, django_capture_on_commit_callbacks) -> None:
    WebhookEndpoint.objects.create(
        owner=hr_user, url="http://127.0.0.1:9/h", secret="s" * 20, events=["invitation.completed"]
    )
    invitation = _submitted_invitation(hr_user, scores=(90, 0), statuses=["graded", "grading"])
    assert invitation_attempt_finished(invitation_id=invitation.pk) is False
    assert Invitation.objects.get(pk=invitation.pk).status == "submitted"

    Attempt.objects.filter(invitation=invitation, status="grading").update(status="failed", error_message="超时")
    with django_capture_on_commit_callbacks() as callbacks:
        assert invitation_attempt_finished(invitation_id=invitation.pk) is True
    assert len(callbacks) == 1
    assert invitation_attempt_finished(invitation_id=invitation.pk) is False  # only once
    invitation.refresh_from_db()
    assert invitation.status == "completed" and invitation.completed_at is not None

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event == "invitation.completed"
    data = delivery.payload["data"]
    assert data["invitation"]["id"] == invitation.pk and data["invitation"]["candidate_name"] == "李雷"
    assert data["results"]["total"] == 30 and data["results"]["passed"] is False
    assert data["results"]["questions"][1]["status"] == "failed"


def test_invitation_detail_shows_results_to_its_owner(hr_user, api_client) -> None:
    invitation = _submitted_invitation(hr_user, scores=(100, 100), questions=2)
    invitation_attempt_finished(invitation_id=invitation.pk)
    body = api_client(hr_user).get(f"/api/v1/invitations/{invitation.pk}/").json()
    assert body["status"] == "completed"
    assert body["results"]["total"] == 100 and body["results"]["passed"] is True
    assert body["results"]["questions"][0]["key_points"] == []


def test_results_csv_is_utf8_with_bom_and_escapes_formulas(hr_user, api_client) -> None:
    invitation = _submitted_invitation(hr_user, name='=HYPERLINK("http://x")', scores=(80, 50))
    assessment = invitation.assessment
    invitation_create(
        assessment=assessment, candidate_name="韩梅梅", candidate_email="h@example.com", created_by=hr_user
    )
    response = api_client(hr_user).get(f"/api/v1/assessments/{assessment.pk}/results.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, first, second = rows
    assert header[:9] == [
        "invitation_id",
        "candidate_name",
        "candidate_email",
        "status",
        "started_at",
        "submitted_at",
        "completed_at",
        "total",
        "passed",
    ]
    assert len(header) == 12
    assert first[1] == '\'=HYPERLINK("http://x")' and first[7] == "43" and first[9:] == ["80", "50", "0"]
    assert second[1] == "韩梅梅" and second[3] == "pending" and second[7] == "" and second[9:] == ["", "", ""]


def test_results_csv_with_an_accept_header_for_csv(hr_user, api_client) -> None:
    invitation = _submitted_invitation(hr_user)
    response = api_client(hr_user).get(
        f"/api/v1/assessments/{invitation.assessment_id}/results.csv", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")


def test_invitation_and_assessment_lists_are_constant_in_queries(
    hr_user, api_client, django_assert_max_num_queries
) -> None:
    client = api_client(hr_user)
    _submitted_invitation(hr_user)
    with django_assert_max_num_queries(14) as few:
        client.get("/api/v1/invitations/")
        client.get("/api/v1/assessments/")
    for index in range(8):
        _submitted_invitation(hr_user, name=f"候选人{index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/invitations/").json()["count"] == 9
        assert client.get("/api/v1/assessments/").json()["count"] == 9


def test_csv_export_is_constant_in_queries(hr_user, api_client, django_assert_max_num_queries) -> None:
    invitation = _submitted_invitation(hr_user)
    assessment = invitation.assessment
    client = api_client(hr_user)
    with django_assert_max_num_queries(12) as few:
        client.get(f"/api/v1/assessments/{assessment.pk}/results.csv")
    for index in range(10):
        extra, _ = invitation_create(
            assessment=assessment, candidate_name=f"候选人{index}", candidate_email="x@example.com", created_by=hr_user
        )
        AttemptFactory(
            user=None,
            invitation=extra,
            mode=Attempt.Mode.ASSESSMENT,
            question=assessment.items.first().question,
            status="queued",
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"/api/v1/assessments/{assessment.pk}/results.csv")
    assert response.content.decode("utf-8-sig").count("\n") == 12


def test_an_assessment_question_archived_later_still_shows_in_results(hr_user) -> None:
    invitation = _submitted_invitation(hr_user, scores=(70,), questions=1)
    question = invitation.assessment.items.get().question
    question.status = "archived"
    question.save()
    assert invitation_results(invitation=invitation)["questions"][0]["score"] == 70


def test_overdue_invitations_are_submitted_by_the_periodic_task(hr_user) -> None:
    from datetime import timedelta

    from attempts.assessments import invitation_get_by_token, invitation_start, invitations_submit_overdue

    assessment = AssessmentFactory(owner=hr_user, time_limit_minutes=10)
    AssessmentQuestionFactory(assessment=assessment, position=1)
    _, late_token = invitation_create(
        assessment=assessment, candidate_name="迟到", candidate_email="l@example.com", created_by=hr_user
    )
    _, busy_token = invitation_create(
        assessment=assessment, candidate_name="进行中", candidate_email="b@example.com", created_by=hr_user
    )
    now = timezone.now()
    late = invitation_start(invitation=invitation_get_by_token(token=late_token), now=now - timedelta(minutes=11))
    busy = invitation_start(invitation=invitation_get_by_token(token=busy_token), now=now - timedelta(minutes=5))
    assert invitations_submit_overdue(now=now) == [late.pk]
    late.refresh_from_db()
    busy.refresh_from_db()
    # Nothing was saved, so nothing is graded: the invitation is complete with a zero total.
    assert late.status == "completed" and busy.status == "started"
    assert invitation_results(invitation=late)["total"] == 0
    assert invitations_submit_overdue(now=now) == []


def test_results_csv_errors_are_json_even_when_csv_is_asked_for(hr_user, api_client) -> None:
    client = api_client(hr_user)
    for response in (
        client.get("/api/v1/assessments/999999/results.csv", HTTP_ACCEPT="text/csv"),
        client.get("/api/v1/assessments/999999/results.csv", {"format": "csv"}),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json" and response.json()["code"] == "not_found"


def test_a_question_archived_before_submission_is_left_out_not_fatal(hr_user, api_client) -> None:
    from attempts.assessments import invitation_get_by_token, invitation_save_answer, invitation_submit

    assessment = AssessmentFactory(owner=hr_user, pass_score=50)
    kept, archived = (AssessmentQuestionFactory(assessment=assessment, position=i) for i in (1, 2))
    _, token = invitation_create(
        assessment=assessment, candidate_name="王", candidate_email="w@example.com", created_by=hr_user
    )
    for item in (kept, archived):
        invitation_save_answer(
            invitation=invitation_get_by_token(token=token), question_id=item.question_id, answer="答"
        )
    archived.question.status = "archived"
    archived.question.save()
    invitation = invitation_submit(invitation=invitation_get_by_token(token=token))
    assert invitation.status == "submitted"
    assert list(Attempt.objects.filter(invitation=invitation).values_list("question_id", flat=True)) == [
        kept.question_id
    ]
    attempt = Attempt.objects.get(invitation=invitation)
    Attempt.objects.filter(pk=attempt.pk).update(status="graded")
    GradeFactory(attempt=attempt, score=70)
    invitation_attempt_finished(invitation_id=invitation.pk)
    results = invitation_results(invitation=Invitation.objects.get(pk=invitation.pk))
    assert [row["status"] for row in results["questions"]] == ["graded", "not_gradable"]
    assert results["questions"][1]["score"] is None and results["questions"][1]["answered"] is True
    assert results["total"] == 70 and results["passed"] is True
