"""Submission, retry, claims, the sweeper and grade provenance: the services, called directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from attempts import services
from attempts.graders.offline import MODEL as OFFLINE_MODEL
from attempts.models import Attempt, Grade, Invitation, ReviewState
from interview_platform.errors import ServiceError
from questions.models import Question, ReferenceAnswerVersion
from tests.factories import (
    AssessmentQuestionFactory,
    AttemptFactory,
    GradeFactory,
    InvitationFactory,
    PublishedQuestionFactory,
    QuestionFactory,
    ReferenceAnswerVersionFactory,
)
from tests.support.worker import broker_unreachable, queued_messages, queues_purge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_and_empty_queues(offline_grader):
    queues_purge()
    with translation.override("en"):
        yield


@pytest.fixture
def question():
    return PublishedQuestionFactory()


def submit(user, question, answer="SFT 是监督微调，用标注数据在预训练模型上继续训练。", **kwargs):
    return services.attempt_submit(question_id=question.pk, answer=answer, user=user, **kwargs)


# --- attempt_submit ---------------------------------------------------------------------


def test_submit_stores_a_queued_attempt_and_sends_it_on_commit(trainee, question, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        attempt = submit(trainee, question, answer="  SFT 是监督微调。 \n", time_spent_s=42, request_id="req-1")

    assert len(callbacks) == 1
    assert queued_messages(headers=("request_id",)) == [
        {"task": "attempts.tasks.grade_attempt", "args": [attempt.pk], "request_id": "req-1"}
    ]
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.QUEUED
    assert attempt.mode == Attempt.Mode.PRACTICE and attempt.user == trainee and attempt.invitation is None
    assert attempt.answer == "SFT 是监督微调。"
    assert attempt.reference_version == question.versions.get(status="published")
    assert attempt.time_spent_s == 42 and attempt.request_id == "req-1"
    assert attempt.enqueued_at is not None


def test_nothing_is_sent_when_the_transaction_rolls_back(trainee, question, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit(trainee, question)
    assert len(callbacks) == 1  # registered on commit, not sent during the request
    assert queued_messages() == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("", "The answer is empty."),
        ("   \n\t ", "The answer is empty."),
        (None, "The answer must be text."),
        (12, "The answer must be text."),
        ("a\x00b", "The answer contains a NUL character."),
    ],
)
def test_submit_refuses_bad_answers(trainee, question, answer, message):
    with pytest.raises(ServiceError) as caught:
        submit(trainee, question, answer=answer)
    assert caught.value.field_errors == {"answer": [message]}
    assert caught.value.status_code == 400
    assert not Attempt.objects.exists()


def test_submit_refuses_an_answer_over_the_limit_and_accepts_one_at_it(trainee, question, settings):
    settings.ANSWER_MAX_CHARS = 20
    assert submit(trainee, question, answer="答" * 20).answer == "答" * 20
    with pytest.raises(ServiceError) as caught:
        submit(trainee, question, answer="答" * 21)
    assert "21 characters long; at most 20" in caught.value.field_errors["answer"][0]


def test_the_default_limit_is_twenty_thousand_characters(trainee, question, settings):
    assert settings.ANSWER_MAX_CHARS == 20_000
    with pytest.raises(ServiceError):
        submit(trainee, question, answer="x" * 20_001)


@pytest.mark.parametrize("time_spent_s", [-1, 1.5, True, "10", 10**9])
def test_submit_refuses_bad_time_spent(trainee, question, time_spent_s):
    with pytest.raises(ServiceError) as caught:
        submit(trainee, question, time_spent_s=time_spent_s)
    assert list(caught.value.field_errors) == ["time_spent_s"]


def test_submit_refuses_unknown_archived_and_unpublished_questions(trainee):
    archived = PublishedQuestionFactory(status=Question.Status.ARCHIVED)
    unpublished = QuestionFactory()
    ReferenceAnswerVersionFactory(question=unpublished, number=1)  # a draft only
    cases = [
        (10**9, "No question with this id."),
        ("1", "No question with this id."),
        (archived.pk, "This question is archived."),
        (unpublished.pk, "This question has no published reference answer yet."),
    ]
    for question_id, message in cases:
        with pytest.raises(ServiceError) as caught:
            services.attempt_submit(question_id=question_id, answer="回答", user=trainee)
        assert caught.value.field_errors == {"question": [message]}


def test_all_field_errors_are_reported_together(trainee):
    with pytest.raises(ServiceError) as caught:
        services.attempt_submit(question_id=10**9, answer=" ", user=trainee, time_spent_s=-5)
    assert set(caught.value.field_errors) == {"question", "answer", "time_spent_s"}


def test_an_attempt_needs_exactly_one_owner(trainee, question):
    invitation = InvitationFactory()
    with pytest.raises(ServiceError):
        services.attempt_submit(question_id=question.pk, answer="回答")
    with pytest.raises(ServiceError):
        services.attempt_submit(question_id=question.pk, answer="回答", user=trainee, invitation=invitation)


def test_an_invitation_submits_assessment_attempts_once_per_question(question):
    invitation = InvitationFactory()
    attempt = services.attempt_submit(question_id=question.pk, answer="回答", invitation=invitation)
    assert attempt.mode == Attempt.Mode.ASSESSMENT and attempt.user is None

    with pytest.raises(ServiceError) as caught:
        services.attempt_submit(question_id=question.pk, answer="再答", invitation=invitation)
    assert caught.value.status_code == 409
    assert Attempt.objects.filter(invitation=invitation).count() == 1


def test_a_broker_that_is_down_does_not_lose_the_attempt(trainee, question, django_capture_on_commit_callbacks):
    with broker_unreachable(), django_capture_on_commit_callbacks(execute=True):
        attempt = submit(trainee, question, request_id="req-down")

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.QUEUED
    assert attempt.enqueued_at is None  # never reached the broker: the next sweep sends it

    with broker_unreachable():
        assert services.attempts_sweep_stale() == []  # still down: nothing raised, nothing lost
    assert services.attempts_sweep_stale() == [attempt.pk]
    assert queued_messages(headers=("request_id",)) == [
        {"task": "attempts.tasks.grade_attempt", "args": [attempt.pk], "request_id": "req-down"}
    ]


# --- attempt_retry ----------------------------------------------------------------------


def test_the_owner_retries_a_failed_attempt(trainee, question, django_capture_on_commit_callbacks):
    attempt = AttemptFactory(user=trainee, question=question, status="failed", error_message="超时")
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_retry(attempt=attempt, actor=trainee)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_message) == ("queued", "")
    assert queued_messages() == [{"task": "attempts.tasks.grade_attempt", "args": [attempt.pk]}]


def test_an_expert_retries_anyones_failed_attempt_but_another_trainee_cannot(
    trainee, other_trainee, expert, question, admin_user
):
    attempt = AttemptFactory(user=trainee, question=question, status="failed")
    with pytest.raises(ServiceError) as caught:
        services.attempt_retry(attempt=attempt, actor=other_trainee)
    assert caught.value.status_code == 403
    services.attempt_retry(attempt=attempt, actor=expert)
    assert Attempt.objects.get(pk=attempt.pk).status == "queued"


@pytest.mark.parametrize("status", ["queued", "grading", "graded"])
def test_only_a_failed_attempt_can_be_retried(trainee, question, status):
    attempt = AttemptFactory(user=trainee, question=question, status=status)
    with pytest.raises(ServiceError) as caught:
        services.attempt_retry(attempt=attempt, actor=trainee)
    assert caught.value.status_code == 409 and caught.value.code == "invalid_state"
    assert Attempt.objects.get(pk=attempt.pk).status == status


# --- Claims -------------------------------------------------------------------------------


def test_a_claim_is_taken_once(trainee, question):
    attempt = AttemptFactory(user=trainee, question=question)
    claim = services.attempt_claim(attempt_id=attempt.pk)
    assert claim is not None and claim.tries == 1
    assert services.attempt_claim(attempt_id=attempt.pk) is None  # a duplicate delivery
    assert services.attempt_claim(attempt_id=10**9) is None
    attempt.refresh_from_db()
    assert attempt.status == "grading" and attempt.grading_started_at is not None


def test_a_stale_claim_can_be_taken_over_and_the_old_holder_cannot_record(trainee, question, settings):
    settings.GRADING_STALE_AFTER_SECONDS = 60
    attempt = AttemptFactory(user=trainee, question=question)
    first = services.attempt_claim(attempt_id=attempt.pk)
    Attempt.objects.filter(pk=attempt.pk).update(grading_started_at=timezone.now() - timedelta(seconds=61))

    second = services.attempt_claim(attempt_id=attempt.pk)

    assert second is not None and second.tries == 2
    assert services.attempt_grade(claim=first) is None  # the dead worker's late result is dropped
    assert not Grade.objects.exists()
    grade = services.attempt_grade(claim=second)
    assert grade.is_current and Grade.objects.filter(attempt=attempt).count() == 1


def test_a_transient_error_requeues_and_a_permanent_one_fails_with_its_reason(trainee, question):
    attempt = AttemptFactory(user=trainee, question=question)
    claim = services.attempt_claim(attempt_id=attempt.pk)
    assert services.attempt_requeue(claim=claim, error=RuntimeError("429"), retry_in_s=30)
    attempt.refresh_from_db()
    assert attempt.status == "queued" and attempt.enqueued_at > timezone.now() + timedelta(seconds=20)

    claim = services.attempt_claim(attempt_id=attempt.pk)
    assert services.attempt_fail(claim=claim, reason="The LLM server rejected the API key (401)")
    attempt.refresh_from_db()
    assert attempt.status == "failed" and attempt.error_message == "The LLM server rejected the API key (401)"
    assert not services.attempt_fail(claim=claim, reason="again")  # no longer grading


# --- The sweeper ---------------------------------------------------------------------------


def test_the_sweeper_resends_only_what_is_stale(trainee, question, settings):
    settings.GRADING_STALE_AFTER_SECONDS = 300
    old = timezone.now() - timedelta(seconds=301)
    fresh = timezone.now() - timedelta(seconds=10)
    stale_queued = AttemptFactory(user=trainee, question=question, enqueued_at=old)
    stale_grading = AttemptFactory(user=trainee, question=question, status="grading", grading_started_at=old)
    AttemptFactory(user=trainee, question=question, enqueued_at=fresh)
    AttemptFactory(user=trainee, question=question, status="grading", grading_started_at=fresh)
    AttemptFactory(user=trainee, question=question, status="graded", enqueued_at=old)
    AttemptFactory(user=trainee, question=question, status="failed", enqueued_at=old)

    sent = services.attempts_sweep_stale()

    assert sorted(sent) == sorted([stale_queued.pk, stale_grading.pk])
    assert sorted(m["args"][0] for m in queued_messages()) == sorted(sent)
    stale_grading.refresh_from_db()
    assert stale_grading.status == "queued" and stale_grading.grading_started_at is None
    assert services.attempts_sweep_stale() == []  # just sent: fresh again


# --- Grades: provenance, current grade, overrides -----------------------------------------


def test_grading_records_provenance_and_schedules_the_review(trainee, question):
    attempt = AttemptFactory(user=trainee, question=question)
    grade = services.attempt_grade(claim=services.attempt_claim(attempt_id=attempt.pk))

    attempt.refresh_from_db()
    assert attempt.status == "graded" and attempt.graded_at is not None
    assert grade.is_current and grade.kind == "auto"
    assert grade.reference_version == attempt.reference_version
    assert (grade.grader, grade.model) == ("offline", OFFLINE_MODEL)
    assert grade.latency_ms is not None
    assert "离线评分" in grade.feedback
    assert [p["point"] for p in grade.key_points] == attempt.reference_version.key_points
    assert ReviewState.objects.get(user=trainee, question=question).last_attempt == attempt


def test_a_version_without_key_points_is_judged_on_points_from_its_body(trainee):
    question = QuestionFactory()
    ReferenceAnswerVersionFactory(
        question=question,
        number=1,
        status="published",
        key_points=[],
        body="- 复读机问题指模型重复生成相同的内容\n- 原因包括训练数据重复和解码策略\n- 可用重复惩罚缓解",
    )
    attempt = AttemptFactory(user=trainee, question=question, answer="复读机问题就是模型不断重复生成相同内容。")
    grade = services.attempt_grade(claim=services.attempt_claim(attempt_id=attempt.pk))
    assert [p["point"] for p in grade.key_points] == [
        "复读机问题指模型重复生成相同的内容",
        "原因包括训练数据重复和解码策略",
        "可用重复惩罚缓解",
    ]
    assert [p["covered"] for p in grade.key_points] == [True, False, False]


def test_regrading_against_a_new_version_as_a_dry_run_then_applying_it(trainee, question):
    old = GradeFactory(attempt__user=trainee, attempt__question=question, score=40)
    attempt = old.attempt
    v1 = attempt.reference_version
    v1.status = ReferenceAnswerVersion.Status.SUPERSEDED
    v1.save()
    v2 = ReferenceAnswerVersionFactory(question=question, number=2, status="published", key_points=["SFT 是监督微调"])

    dry = services.grade_attempt_against(attempt=attempt, version=v2, make_current=False, reason="v2")
    assert not dry.is_current and dry.reference_version == v2 and dry.reason == "v2"
    assert Grade.objects.get(attempt=attempt, is_current=True) == old

    services.grade_make_current(grade=dry, reason="参考答案更新至 v2 后重新评分")

    current = Grade.objects.get(attempt=attempt, is_current=True)
    assert current == dry and current.reason == "参考答案更新至 v2 后重新评分"
    assert Grade.objects.filter(attempt=attempt).count() == 2  # the old grade stays as history
    with pytest.raises(ServiceError):
        services.grade_attempt_against(attempt=attempt, version=ReferenceAnswerVersionFactory(), make_current=True)


def test_an_expert_overrides_a_grade(trainee, expert, question):
    old = GradeFactory(attempt__user=trainee, attempt__question=question, score=40)
    grade = services.grade_override(
        attempt=old.attempt, expert=expert, score=75, feedback="表述不同但正确。", reason="自动评分漏判了同义表述"
    )
    assert (grade.kind, grade.grader, grade.score, grade.created_by) == ("override", "expert", 75, expert)
    assert grade.is_current and grade.reference_version == old.reference_version
    assert Grade.objects.filter(attempt=old.attempt).count() == 2
    assert not Grade.objects.get(pk=old.pk).is_current


def test_an_override_settles_a_failed_attempt(trainee, expert, question):
    attempt = AttemptFactory(user=trainee, question=question, status="failed", error_message="401")
    services.grade_override(attempt=attempt, expert=expert, score=60, feedback="人工评分。", reason="模型不可用")
    attempt.refresh_from_db()
    assert attempt.status == "graded" and attempt.error_message == ""


def test_override_rules(trainee, expert, question):
    graded = GradeFactory(attempt__user=trainee, attempt__question=question).attempt
    with pytest.raises(ServiceError) as caught:
        services.grade_override(attempt=graded, expert=trainee, score=90, feedback="好", reason="x")
    assert caught.value.status_code == 403
    with pytest.raises(ServiceError) as caught:
        services.grade_override(attempt=graded, expert=expert, score=101, feedback=" ", reason="")
    assert set(caught.value.field_errors) == {"score", "feedback", "reason"}
    queued = AttemptFactory(user=trainee, question=question)
    with pytest.raises(ServiceError) as caught:
        services.grade_override(attempt=queued, expert=expert, score=90, feedback="好", reason="x")
    assert caught.value.status_code == 409


def test_a_finished_assessment_attempt_completes_its_invitation(question, django_capture_on_commit_callbacks):
    invitation = InvitationFactory(status=Invitation.Status.SUBMITTED, submitted_at=timezone.now())
    AssessmentQuestionFactory(assessment=invitation.assessment, question=question, position=1)
    attempt = services.attempt_submit(question_id=question.pk, answer="SFT 是监督微调。", invitation=invitation)

    with django_capture_on_commit_callbacks(execute=True):
        grade = services.attempt_grade(claim=services.attempt_claim(attempt_id=attempt.pk))

    assert grade.is_current
    assert not ReviewState.objects.exists()  # assessments do not schedule reviews
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.COMPLETED


def test_a_failed_assessment_attempt_also_completes_its_invitation(question, django_capture_on_commit_callbacks):
    invitation = InvitationFactory(status=Invitation.Status.SUBMITTED, submitted_at=timezone.now())
    AssessmentQuestionFactory(assessment=invitation.assessment, question=question, position=1)
    attempt = services.attempt_submit(question_id=question.pk, answer="回答", invitation=invitation)
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_fail(claim=services.attempt_claim(attempt_id=attempt.pk), reason="401")
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_the_grader_is_called_outside_any_transaction(trainee, question, monkeypatch):
    from django.db import transaction

    from attempts.graders.offline import OfflineGrader

    seen: list[bool] = []

    class Spy(OfflineGrader):
        def grade(self, request):
            seen.append(transaction.get_connection().in_atomic_block)
            return super().grade(request)

    monkeypatch.setattr(services, "grader_from_settings", Spy)
    attempt = AttemptFactory(user=trainee, question=question)
    services.attempt_grade(claim=services.attempt_claim(attempt_id=attempt.pk))
    services.grade_attempt_against(attempt=attempt, version=attempt.reference_version, make_current=True)

    assert seen == [False, False]
    assert Grade.objects.filter(attempt=attempt).count() == 2
    assert Grade.objects.filter(attempt=attempt, is_current=True).count() == 1
