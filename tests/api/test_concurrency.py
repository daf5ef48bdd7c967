"""Races that the database must settle: double submit, duplicate idempotent POSTs, double completion.

PostgreSQL only: each thread has its own connection and real row locks. (The SQLite test
database is shared in memory and locks whole tables, so it cannot run writers side by side.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from accounts.services import api_token_create
from attempts.assessments import (
    invitation_attempt_finished,
    invitation_create,
    invitation_get_by_token,
    invitation_save_answer,
    invitation_submit,
)
from attempts.models import Assessment, Attempt, Invitation, WebhookDelivery, WebhookEndpoint
from interview_platform.errors import ServiceError
from tests.factories import AssessmentFactory, AssessmentQuestionFactory, AttemptFactory, GradeFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same moment in its own thread; return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _started_invitation(hr_user) -> tuple[Invitation, str]:
    assessment = AssessmentFactory(owner=hr_user)
    item = AssessmentQuestionFactory(assessment=assessment, position=1)
    invitation, token = invitation_create(
        assessment=assessment, candidate_name="并发", candidate_email="c@example.com", created_by=hr_user
    )
    invitation_save_answer(invitation=invitation, question_id=item.question_id, answer="监督微调")
    return invitation, token


def test_two_simultaneous_submits_create_one_set_of_attempts(hr_user) -> None:
    invitation, token = _started_invitation(hr_user)
    results = run_together(
        lambda: invitation_submit(invitation=invitation_get_by_token(token=token)),
        lambda: invitation_submit(invitation=invitation_get_by_token(token=token)),
    )
    errors = [result for result in results if isinstance(result, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ServiceError) and errors[0].code == "already_submitted"
    assert Attempt.objects.filter(invitation=invitation).count() == 1
    assert Invitation.objects.get(pk=invitation.pk).status == "submitted"


def test_simultaneous_requests_with_one_idempotency_key_create_one_assessment(hr_user, seed_questions) -> None:
    from rest_framework.test import APIClient

    key = api_token_create(user=hr_user).raw_key
    payload = {"title": "并发", "question_ids": [next(iter(seed_questions.values())).pk], "time_limit_minutes": 5}

    def post() -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="same").status_code

    statuses = run_together(post, post, post)
    assert Assessment.objects.count() == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}


def test_two_workers_finishing_the_last_attempts_complete_the_invitation_once(hr_user) -> None:
    WebhookEndpoint.objects.create(
        owner=hr_user, url="http://127.0.0.1:9/h", secret="s" * 20, events=["invitation.completed"]
    )
    assessment = AssessmentFactory(owner=hr_user)
    items = [AssessmentQuestionFactory(assessment=assessment, position=i) for i in (1, 2)]
    invitation, _ = invitation_create(
        assessment=assessment, candidate_name="并发", candidate_email="c@example.com", created_by=hr_user
    )
    Invitation.objects.filter(pk=invitation.pk).update(status="submitted")
    for item in items:
        attempt = AttemptFactory(
            user=None, invitation=invitation, mode="assessment", question=item.question, status="graded"
        )
        GradeFactory(attempt=attempt)
    results = run_together(
        lambda: invitation_attempt_finished(invitation_id=invitation.pk),
        lambda: invitation_attempt_finished(invitation_id=invitation.pk),
    )
    assert sorted(results) == [False, True]
    assert WebhookDelivery.objects.count() == 1
    assert Invitation.objects.get(pk=invitation.pk).status == "completed"
