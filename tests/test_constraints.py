"""Every database constraint refuses a violating row, on SQLite and PostgreSQL alike.

Each case writes the same rows twice: once with a valid value (which must be stored, so the
case cannot pass for an unrelated reason) and once with the violating one, which must raise
``IntegrityError`` from the database itself (``objects.create`` runs no model validation).
A last test checks that every constraint declared on a model of the project has a case here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from accounts.models import Team, TeamMembership
from attempts.models import (
    Assessment,
    AssessmentQuestion,
    Attempt,
    Grade,
    IdempotencyRecord,
    Invitation,
    RegradeRun,
    WebhookDelivery,
    WebhookEndpoint,
)
from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic
from tests.factories import (
    AssessmentFactory,
    AssessmentQuestionFactory,
    AttemptFactory,
    ErratumFactory,
    GradeFactory,
    InvitationFactory,
    PublishedQuestionFactory,
    QuestionFactory,
    ReferenceAnswerVersionFactory,
    ReviewStateFactory,
    TeamFactory,
    TopicFactory,
    UserFactory,
)

Status = ReferenceAnswerVersion.Status
PROJECT_APPS = ("questions", "attempts", "accounts")

# name -> (kind, write(bad)): the write stores a valid row when bad is False, a violating one when True.
CASES: dict[str, tuple[str, Callable[[bool], object]]] = {}


def case(name: str, kind: str = "check") -> Callable[[Callable[[bool], object]], Callable[[bool], object]]:
    def register(function: Callable[[bool], object]) -> Callable[[bool], object]:
        CASES[name] = (kind, function)
        return function

    return register


# --- Question bank --------------------------------------------------------------------------------


@case("question_unique_number_per_topic", "unique")
def _(bad: bool) -> object:
    first = QuestionFactory(number="1")
    return QuestionFactory(topic=first.topic, number="1" if bad else "2")


@case("question_status_valid")
def _(bad: bool) -> object:
    return QuestionFactory(status="deleted" if bad else Question.Status.ARCHIVED)


@case("question_difficulty_valid")
def _(bad: bool) -> object:
    return QuestionFactory(difficulty="extreme" if bad else Question.Difficulty.HARD)


@case("topic_slug_unique", "unique")
def _(bad: bool) -> object:
    TopicFactory(slug="大模型llms进阶面")
    return Topic.objects.create(slug="大模型llms进阶面" if bad else "大模型llms进阶面-2", name="进阶面")


@case("tag_slug_unique", "unique")
def _(bad: bool) -> object:
    Tag.objects.create(slug="sft", name="SFT")
    return Tag.objects.create(slug="sft" if bad else "rlhf", name="RLHF")


@case("version_unique_number_per_question", "unique")
def _(bad: bool) -> object:
    first = ReferenceAnswerVersionFactory(number=1)
    return ReferenceAnswerVersionFactory(question=first.question, number=1 if bad else 2)


@case("version_one_published_per_question", "unique")
def _(bad: bool) -> object:
    question = PublishedQuestionFactory()
    return ReferenceAnswerVersionFactory(
        question=question, number=2, status=Status.PUBLISHED if bad else Status.IN_REVIEW
    )


@case("version_status_valid")
def _(bad: bool) -> object:
    return ReferenceAnswerVersionFactory(status="approved" if bad else Status.REJECTED)


@case("version_number_positive")
def _(bad: bool) -> object:
    return ReferenceAnswerVersionFactory(number=0 if bad else 1)


@case("erratum_status_valid")
def _(bad: bool) -> object:
    return ErratumFactory(status="ignored" if bad else Erratum.Status.REJECTED)


@case("erratum_severity_valid")
def _(bad: bool) -> object:
    return ErratumFactory(severity="trivial" if bad else Erratum.Severity.CRITICAL)


@case("erratum_fixed_names_version")
def _(bad: bool) -> object:
    question = PublishedQuestionFactory()
    fix = ReferenceAnswerVersionFactory(question=question, number=2, status=Status.IN_REVIEW)
    return ErratumFactory(question=question, status=Erratum.Status.FIXED, fixed_in=None if bad else fix)


# --- Attempts and grades --------------------------------------------------------------------------


@case("attempt_status_valid")
def _(bad: bool) -> object:
    return AttemptFactory(status="lost" if bad else Attempt.Status.FAILED)


@case("attempt_owner_matches_mode")
def _(bad: bool) -> object:
    # A candidate's attempt belongs to an invitation and no user; with a user it is refused.
    invitation = InvitationFactory()
    return AttemptFactory(user=UserFactory() if bad else None, invitation=invitation, mode=Attempt.Mode.ASSESSMENT)


@case("attempt_practice_needs_user")
def _(bad: bool) -> object:
    return AttemptFactory(user=None if bad else UserFactory(), mode=Attempt.Mode.PRACTICE)


@case("attempt_one_per_invitation_question", "unique")
def _(bad: bool) -> object:
    invitation = InvitationFactory()
    first = AttemptFactory(user=None, invitation=invitation, mode=Attempt.Mode.ASSESSMENT)
    question = first.question if bad else PublishedQuestionFactory()
    return AttemptFactory(user=None, invitation=invitation, mode=Attempt.Mode.ASSESSMENT, question=question)


@case("regrade_run_status_valid")
def _(bad: bool) -> object:
    question = PublishedQuestionFactory()
    return RegradeRun.objects.create(
        question=question,
        target_version=question.versions.get(),
        status="paused" if bad else RegradeRun.Status.CANCELLED,
    )


@case("grade_one_current_per_attempt", "unique")
def _(bad: bool) -> object:
    first = GradeFactory(is_current=True)
    return GradeFactory(attempt=first.attempt, is_current=bad)


@case("grade_score_0_100")
def _(bad: bool) -> object:
    return GradeFactory(score=101 if bad else 100)


@case("grade_kind_valid")
def _(bad: bool) -> object:
    return GradeFactory(kind="manual" if bad else Grade.Kind.OVERRIDE)


@case("review_state_unique_user_question", "unique")
def _(bad: bool) -> object:
    first = ReviewStateFactory()
    return ReviewStateFactory(user=first.user, question=first.question if bad else PublishedQuestionFactory())


@case("review_state_rating_1_4")
def _(bad: bool) -> object:
    return ReviewStateFactory(last_rating=5 if bad else 4)


# --- Assessments, invitations, webhooks, idempotency, teams ---------------------------------------


@case("assessment_pass_score_0_100")
def _(bad: bool) -> object:
    return AssessmentFactory(pass_score=101 if bad else 100)


@case("assessment_time_limit_range")
def _(bad: bool) -> object:
    return AssessmentFactory(time_limit_minutes=0 if bad else 1)


@case("assessment_time_limit_at_most_a_day")
def _(bad: bool) -> object:
    return AssessmentFactory(time_limit_minutes=24 * 60 + 1 if bad else 24 * 60)


@case("assessment_status_valid")
def _(bad: bool) -> object:
    return AssessmentFactory(status="draft" if bad else Assessment.Status.ARCHIVED)


@case("assessment_item_unique_position", "unique")
def _(bad: bool) -> object:
    first = AssessmentQuestionFactory(position=1)
    return AssessmentQuestionFactory(assessment=first.assessment, position=1 if bad else 2)


@case("assessment_item_unique_question", "unique")
def _(bad: bool) -> object:
    first = AssessmentQuestionFactory(position=1)
    question = first.question if bad else PublishedQuestionFactory()
    return AssessmentQuestion.objects.create(assessment=first.assessment, question=question, position=2)


@case("invitation_status_valid")
def _(bad: bool) -> object:
    return InvitationFactory(status="expired" if bad else Invitation.Status.REVOKED)


@case("invitation_token_hash_unique", "unique")
def _(bad: bool) -> object:
    InvitationFactory(token_hash="a" * 64)
    return InvitationFactory(token_hash="a" * 64 if bad else "b" * 64)


def _endpoint() -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        owner=UserFactory(roles=["hr"]), url="https://hr.example.com/hook", secret="s" * 32, events=["x"]
    )


@case("webhook_delivery_status_valid")
def _(bad: bool) -> object:
    return WebhookDelivery.objects.create(
        endpoint=_endpoint(), event="invitation.completed", payload={}, status="bounced" if bad else "failed"
    )


@case("webhook_delivery_unique_event", "unique")
def _(bad: bool) -> object:
    endpoint, event_id = _endpoint(), uuid.uuid4()
    WebhookDelivery.objects.create(endpoint=endpoint, event_id=event_id, event="invitation.completed", payload={})
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=event_id if bad else uuid.uuid4(), event="invitation.completed", payload={}
    )


@case("idempotency_unique_user_key", "unique")
def _(bad: bool) -> object:
    user = UserFactory()
    fields = {"method": "POST", "path": "/api/v1/attempts/", "request_fingerprint": "f" * 64}
    IdempotencyRecord.objects.create(user=user, key="retry-1", **fields)
    return IdempotencyRecord.objects.create(user=user, key="retry-1" if bad else "retry-2", **fields)


@case("team_membership_unique", "unique")
def _(bad: bool) -> object:
    membership = TeamMembership.objects.create(team=TeamFactory(), user=UserFactory())
    return TeamMembership.objects.create(team=membership.team if bad else TeamFactory(), user=membership.user)


@case("team_name_unique", "unique")
def _(bad: bool) -> object:
    Team.objects.create(name="NLP")
    return Team.objects.create(name="NLP" if bad else "CV")


# Cases named after a behaviour rather than a constraint check the constraint given here.
CONSTRAINT_OF = {
    "attempt_practice_needs_user": "attempt_owner_matches_mode",
    "assessment_time_limit_at_most_a_day": "assessment_time_limit_range",
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CASES))
def test_valid_row_is_stored(name: str) -> None:
    _kind, write = CASES[name]
    with transaction.atomic():
        row = write(False)
    assert row.pk is not None


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CASES))
def test_violation_raises_integrity_error(name: str) -> None:
    kind, write = CASES[name]
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        write(True)
    constraint = CONSTRAINT_OF.get(name, name)
    # PostgreSQL names every violated constraint; SQLite names check constraints, and columns for unique ones.
    if (
        connection.vendor == "postgresql" and not constraint.endswith(("slug_unique", "name_unique", "hash_unique"))
    ) or (connection.vendor == "sqlite" and kind == "check"):
        assert constraint in str(error.value)


def test_every_declared_constraint_has_a_case() -> None:
    declared = {
        constraint.name
        for app in PROJECT_APPS
        for model in apps.get_app_config(app).get_models()
        for constraint in model._meta.constraints
    }
    covered = set(CASES) | set(CONSTRAINT_OF.values())
    assert declared - covered == set()


@pytest.mark.django_db
def test_violation_inside_a_transaction_leaves_earlier_rows() -> None:
    """``atomic()`` around each violation is a savepoint: the row written before it survives."""
    kept = QuestionFactory(number="7")
    with pytest.raises(IntegrityError), transaction.atomic():
        Question.objects.create(topic=kept.topic, number="7", title="重复编号")
    assert Question.objects.filter(pk=kept.pk).exists()
