"""The grading pipeline end to end with a real Celery worker.

The worker runs in a thread of the test process: on the in-memory broker by default, on
Redis when ``CELERY_BROKER_URL`` names it (the same tests, run both ways in CI). Answers
go in through ``attempt_submit``, tasks leave on commit, grades come back from the offline
grader or from the OpenAI-compatible grader talking to a scripted server on loopback.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from attempts import services
from attempts.graders.prompt import PROMPT_VERSION
from attempts.models import Attempt, Grade, Invitation, ReviewState
from attempts.tasks import grade_attempt
from questions.models import ReferenceAnswerVersion
from tests.factories import AssessmentQuestionFactory, InvitationFactory, PublishedQuestionFactory
from tests.support.fake_openai import Content, Slow, Status
from tests.support.fake_openai import Grade as GradeReply
from tests.support.worker import (
    broker_unreachable,
    celery_worker_running,
    queues_purge,
    sqlite_connection_prepare,
    wait_until,
    worker_wait_idle,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ANSWER = "SFT 是监督微调：在预训练模型的基础上，用人工标注的指令-回答数据继续训练。"


@pytest.fixture(scope="module")
def module_worker():
    """One real worker for the module (starting and stopping one costs seconds)."""
    with celery_worker_running() as worker:
        yield worker


@pytest.fixture
def worker(module_worker, transactional_db):
    """The module's worker, on empty queues, for this test."""
    queues_purge()
    sqlite_connection_prepare()
    yield module_worker
    queues_purge()
    worker_wait_idle()


@pytest.fixture
def question():
    return PublishedQuestionFactory()


def finished(attempt: Attempt, timeout: float = 15.0) -> Attempt:
    def done() -> Attempt | None:
        attempt.refresh_from_db()
        return attempt if attempt.is_finished else None

    wait_until(done, timeout=timeout, what=f"attempt {attempt.pk} to finish")
    # SQLite test readers see uncommitted rows: let the task's transaction end before going on.
    worker_wait_idle()
    attempt.refresh_from_db()
    return attempt


def submit(user, question, answer: str = ANSWER) -> Attempt:
    return services.attempt_submit(question_id=question.pk, answer=answer, user=user)


def test_offline_grading_by_a_real_worker(offline_grader, worker, trainee, question):
    attempt = finished(submit(trainee, question))

    assert attempt.status == Attempt.Status.GRADED and attempt.grading_tries == 1
    grade = attempt.grades.get()
    assert grade.is_current and grade.grader == "offline" and grade.model.startswith("offline-")
    assert grade.score >= 70 and "离线评分" in grade.feedback
    assert ReviewState.objects.filter(user=trainee, question=question).exists()


def test_llm_grading_records_full_provenance(llm_grader, worker, trainee, question):
    llm_grader.script(GradeReply(score=91, covered=(1, 2, 3), feedback="很好。", model="fake-model-2026"))

    attempt = finished(submit(trainee, question))

    grade = attempt.grades.get()
    assert attempt.status == "graded" and grade.is_current
    assert (grade.score, grade.grader, grade.model) == (91, "openai-compatible", "fake-model-2026")
    assert grade.prompt_version == PROMPT_VERSION
    assert (grade.prompt_tokens, grade.completion_tokens) == (321, 54)
    assert grade.latency_ms is not None and '"choices"' in grade.raw_response
    assert grade.reference_version == attempt.reference_version
    assert [p["covered"] for p in grade.key_points] == [True, True, True]
    (request,) = llm_grader.requests
    assert ANSWER in request.user_prompt


@pytest.mark.parametrize(
    "first",
    [
        Status(429, "Rate limit reached"),
        Status(500, "upstream"),
        Slow(3.0),
        Content("{not json"),
        GradeReply(score=150),
    ],
    ids=["429", "500", "timeout", "malformed-json", "score-out-of-range"],
)
def test_a_transient_error_is_retried_then_graded(llm_grader, worker, trainee, question, first):
    llm_grader.script(first, GradeReply(score=77))

    attempt = finished(submit(trainee, question))

    assert attempt.status == "graded", attempt.error_message
    assert attempt.grading_tries == 2
    assert [g.score for g in attempt.grades.all()] == [77]
    assert len(llm_grader.requests) == 2


def test_retries_are_capped_and_the_failure_is_readable(llm_grader, worker, trainee, question):
    llm_grader.default = Status(503, "The engine is currently overloaded")

    attempt = finished(submit(trainee, question))

    assert attempt.status == "failed"
    assert attempt.error_message.startswith("Grading failed after 3 tries.")
    assert "overloaded" in attempt.error_message and "503" in attempt.error_message
    assert len(llm_grader.requests) == 3  # GRADING_MAX_RETRIES=2: one try and two retries
    assert not attempt.grades.exists()


def test_a_permanent_error_fails_at_once_and_the_owner_can_retry(llm_grader, worker, trainee, question):
    llm_grader.script(Status(401, "Incorrect API key provided"))

    attempt = finished(submit(trainee, question))

    assert attempt.status == "failed" and len(llm_grader.requests) == 1
    assert "rejected the API key (401)" in attempt.error_message

    services.attempt_retry(attempt=attempt, actor=trainee)
    attempt = finished(attempt)
    assert attempt.status == "graded" and attempt.error_message == ""
    assert attempt.grades.get().is_current


def test_a_provider_without_json_schema_is_graded_in_json_mode(llm_grader, worker, trainee, question):
    llm_grader.reject_json_schema = True

    attempt = finished(submit(trainee, question))

    assert attempt.status == "graded"
    assert [r.response_format_type for r in llm_grader.requests] == ["json_schema", "json_object"]


def test_a_duplicate_delivery_gives_one_grade(llm_grader, worker, trainee, question):
    llm_grader.script(Slow(0.5, GradeReply(score=80)))
    attempt = submit(trainee, question)
    for _ in range(3):  # the broker redelivers, the sweeper resends: tasks run more than once
        grade_attempt.apply_async(args=[attempt.pk])

    attempt = finished(attempt)
    queues_purge()  # nothing of the duplicates may still be waiting to run

    assert attempt.grades.count() == 1 and attempt.grading_tries == 1
    assert len(llm_grader.requests) == 1
    assert Grade.objects.filter(attempt=attempt, is_current=True).count() == 1


def test_a_version_published_after_submission_does_not_change_the_judgement(llm_grader, worker, trainee, question):
    v1 = question.versions.get(status="published")
    with transaction.atomic():  # the task leaves on commit: v2 is published before grading starts
        attempt = submit(trainee, question)
        v1.status = ReferenceAnswerVersion.Status.SUPERSEDED
        v1.save()
        ReferenceAnswerVersion.objects.create(
            question=question,
            number=2,
            body="全新的参考答案：SFT 是监督微调。",
            key_points=["第二版独有的要点"],
            misconceptions=[],
            status=ReferenceAnswerVersion.Status.PUBLISHED,
            published_at=timezone.now(),
        )

    attempt = finished(attempt)

    grade = attempt.grades.get()
    assert grade.reference_version == v1
    assert [p["point"] for p in grade.key_points] == v1.key_points
    prompt = llm_grader.requests[0].user_prompt
    assert v1.key_points[0] in prompt and "第二版独有的要点" not in prompt


def test_a_broker_down_at_submission_is_graded_once_it_is_back(offline_grader, worker, trainee, question):
    with broker_unreachable():
        attempt = submit(trainee, question)  # no exception: the request would answer 202

    attempt.refresh_from_db()
    assert attempt.status == "queued" and attempt.enqueued_at is None

    assert services.attempts_sweep_stale() == [attempt.pk]  # the beat task, once the broker is back
    attempt = finished(attempt)
    assert attempt.status == "graded" and attempt.grades.count() == 1


def test_an_assessment_completes_when_its_attempts_are_graded(offline_grader, worker, question):
    second = PublishedQuestionFactory()
    invitation = InvitationFactory(status=Invitation.Status.SUBMITTED, submitted_at=timezone.now())
    for position, item in enumerate((question, second), start=1):
        AssessmentQuestionFactory(assessment=invitation.assessment, question=item, position=position)
    attempts = [
        services.attempt_submit(question_id=item.pk, answer=ANSWER, invitation=invitation)
        for item in (question, second)
    ]

    for attempt in attempts:
        finished(attempt)
    invitation = wait_until(
        lambda: Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.COMPLETED).first(),
        what="the invitation to complete",
    )
    assert invitation.completed_at is not None
