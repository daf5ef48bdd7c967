"""Assessments, candidate invitations and their results.

HR builds an assessment (ordered questions, time limit, pass score) and invites candidates.
An invitation carries a single-use link whose token is shown once and stored as a SHA-256
hash. The candidate starts the clock, saves drafts while typing and submits once; the
drafts then become assessment attempts graded by the normal pipeline. When every attempt
of a submitted invitation is finished (graded or failed) the invitation is completed and
the ``invitation.completed`` webhook is sent.

Invitation states: pending → started → submitted → completed; pending or started →
revoked. The time limit is enforced here, on the server: drafts are refused after the
deadline (plus a few seconds of grace for the network), and what was saved before it is
what a late submit sends for grading.

Unanswered questions: an empty answer cannot be an attempt (attempts require text), so a
question left blank gets no attempt and counts as 0 in the results, marked
``answered: false``. A question whose attempt failed permanently also counts as 0 until an
expert regrades it; results are computed live, so a later grade changes the total. A
question archived after the assessment was built cannot take an attempt: an answer to it
stays in the drafts, shows as ``not_gradable`` and is left out of the total.

These services know nothing about HTTP; the API and the candidate page both call them.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import token_hash
from attempts import services as attempt_services
from attempts.models import Assessment, AssessmentQuestion, Attempt, Grade, Invitation
from interview_platform.errors import ServiceError
from questions.models import Question, ReferenceAnswerVersion

logger = logging.getLogger(__name__)

INVITATION_TOKEN_PREFIX_LENGTH = 8
# Seconds accepted after the deadline, for a save sent just before time ran out.
DEADLINE_GRACE_SECONDS = 15
MAX_QUESTIONS_PER_ASSESSMENT = 100
MAX_INVITATION_DAYS = 90
NOT_GRADABLE = "not_gradable"


# --- Assessments ---------------------------------------------------------------------


def _validate_question_ids(question_ids: object) -> list[int]:
    if not isinstance(question_ids, (list, tuple)) or not question_ids:
        raise ServiceError(
            _("An assessment needs at least one question."),
            field_errors={"question_ids": [_("Give a non-empty list of question ids.")]},
        )
    if len(question_ids) > MAX_QUESTIONS_PER_ASSESSMENT:
        raise ServiceError(
            _("Too many questions."),
            field_errors={
                "question_ids": [_("At most %(count)d questions.") % {"count": MAX_QUESTIONS_PER_ASSESSMENT}]
            },
        )
    ids: list[int] = []
    for value in question_ids:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ServiceError(
                _("Question ids must be integers."), field_errors={"question_ids": [_("Each id must be an integer.")]}
            )
        ids.append(value)
    if len(set(ids)) != len(ids):
        raise ServiceError(
            _("A question appears twice."), field_errors={"question_ids": [_("Each question may appear only once.")]}
        )
    questions = {
        question.pk: question
        for question in Question.objects.filter(pk__in=ids).prefetch_related(
            Prefetch(
                "versions",
                queryset=ReferenceAnswerVersion.objects.filter(status=ReferenceAnswerVersion.Status.PUBLISHED),
                to_attr="_published_versions",
            )
        )
    }
    problems = []
    for question_id in ids:
        question = questions.get(question_id)
        if question is None:
            problems.append(_("Question %(id)d does not exist.") % {"id": question_id})
        elif question.status != Question.Status.ACTIVE:
            problems.append(_("Question %(id)d is archived.") % {"id": question_id})
        elif not question._published_versions:
            problems.append(_("Question %(id)d has no published reference answer.") % {"id": question_id})
    if problems:
        raise ServiceError(_("Some questions cannot be used."), field_errors={"question_ids": problems})
    return ids


@transaction.atomic
def assessment_create(
    *,
    owner: AbstractBaseUser,
    title: str,
    question_ids: Sequence[int],
    time_limit_minutes: int,
    pass_score: int,
    description: str = "",
    show_results_to_candidate: bool = False,
) -> Assessment:
    """Create an assessment with its questions in the given order."""
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("A title is required.")]
    elif len(title) > 200:
        errors["title"] = [_("At most 200 characters.")]
    if isinstance(time_limit_minutes, bool) or not isinstance(time_limit_minutes, int):
        errors["time_limit_minutes"] = [_("A whole number of minutes is required.")]
    elif not 1 <= time_limit_minutes <= 24 * 60:
        errors["time_limit_minutes"] = [_("Between 1 and 1440 minutes.")]
    if isinstance(pass_score, bool) or not isinstance(pass_score, int):
        errors["pass_score"] = [_("A whole number is required.")]
    elif not 0 <= pass_score <= 100:
        errors["pass_score"] = [_("Between 0 and 100.")]
    if errors:
        raise ServiceError(_("The assessment is not valid."), field_errors=errors)
    ids = _validate_question_ids(question_ids)
    assessment = Assessment.objects.create(
        owner=owner,
        title=title,
        description=description or "",
        time_limit_minutes=time_limit_minutes,
        pass_score=pass_score,
        show_results_to_candidate=bool(show_results_to_candidate),
    )
    AssessmentQuestion.objects.bulk_create(
        AssessmentQuestion(assessment=assessment, question_id=question_id, position=position)
        for position, question_id in enumerate(ids, start=1)
    )
    return assessment


def assessment_archive(*, assessment: Assessment) -> Assessment:
    """Archived assessments accept no new invitations; existing links keep working."""
    if assessment.status != Assessment.Status.ARCHIVED:
        assessment.status = Assessment.Status.ARCHIVED
        assessment.save(update_fields=["status", "updated_at"])
    return assessment


def assessment_items(*, assessment: Assessment) -> list[AssessmentQuestion]:
    """The assessment's questions in order (uses a prefetched ``items`` list when present)."""
    cache = getattr(assessment, "_prefetched_objects_cache", {})
    if "items" in cache:
        return sorted(cache["items"], key=lambda item: item.position)
    return list(assessment.items.select_related("question").order_by("position"))


# --- Invitations ---------------------------------------------------------------------


def invitation_link(*, raw_token: str) -> str:
    """The candidate's page for a token (the API equivalent is ``/api/v1/take/<token>/``)."""
    return f"{settings.SITE_URL}/take/{raw_token}/"


@transaction.atomic
def invitation_create(
    *,
    assessment: Assessment,
    candidate_name: str,
    candidate_email: str,
    created_by: AbstractBaseUser | None,
    expires_in_days: int = 7,
    raw_token: str | None = None,
) -> tuple[Invitation, str]:
    """Invite a candidate. Returns the invitation and the raw token, which is never stored.

    ``raw_token`` lets a caller supply the token (the API derives it from an idempotency
    key so a retried request can show the same link again); it defaults to 256 random bits.
    """
    errors: dict[str, list[str]] = {}
    candidate_name = (candidate_name or "").strip()
    candidate_email = (candidate_email or "").strip()
    if not candidate_name:
        errors["candidate_name"] = [_("The candidate's name is required.")]
    elif len(candidate_name) > 200:
        errors["candidate_name"] = [_("At most 200 characters.")]
    try:
        validate_email(candidate_email)
    except DjangoValidationError:
        errors["candidate_email"] = [_("Enter a valid email address.")]
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int):
        errors["expires_in_days"] = [_("A whole number of days is required.")]
    elif not 1 <= expires_in_days <= MAX_INVITATION_DAYS:
        errors["expires_in_days"] = [_("Between 1 and %(max)d days.") % {"max": MAX_INVITATION_DAYS}]
    if errors:
        raise ServiceError(_("The invitation is not valid."), field_errors=errors)
    if assessment.status != Assessment.Status.ACTIVE:
        raise ServiceError(_("This assessment is archived and accepts no new invitations."), code="archived")
    raw_token = raw_token or secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        assessment=assessment,
        candidate_name=candidate_name,
        candidate_email=candidate_email,
        token_hash=token_hash(raw_token),
        token_prefix=raw_token[:INVITATION_TOKEN_PREFIX_LENGTH],
        expires_at=timezone.now() + timedelta(days=expires_in_days),
        created_by=created_by,
    )
    return invitation, raw_token


def invitation_get_by_token(*, token: str) -> Invitation:
    """The invitation a candidate's token opens.

    Raises ServiceError: 404 ``not_found`` for an unknown token, 400 ``expired`` for a link
    never started before its expiry, 400 ``revoked`` for a withdrawn one. Submitted and
    completed invitations are returned (the candidate may look at their status).
    """
    invitation = None
    if token and len(token) <= 200:
        invitation = Invitation.objects.select_related("assessment").filter(token_hash=token_hash(token)).first()
    if invitation is None:
        raise ServiceError(_("This invitation link is not valid."), code="not_found", status_code=404)
    if invitation.status == Invitation.Status.REVOKED:
        raise ServiceError(
            _("This invitation has been withdrawn."), code="revoked", field_errors={"token": [_("Revoked.")]}
        )
    if invitation.is_expired:
        raise ServiceError(
            _("This invitation link has expired."), code="expired", field_errors={"token": [_("Expired.")]}
        )
    return invitation


def _refresh_locked(invitation: Invitation) -> Invitation:
    """The invitation's row, re-read under a row lock (the caller is in a transaction)."""
    return Invitation.objects.select_for_update(of=("self",)).select_related("assessment").get(pk=invitation.pk)


@transaction.atomic
def invitation_start(*, invitation: Invitation, now: datetime | None = None) -> Invitation:
    """Start the clock (idempotent: a started invitation keeps its first start time)."""
    now = now or timezone.now()
    locked = _refresh_locked(invitation)
    if locked.status == Invitation.Status.REVOKED:
        raise ServiceError(_("This invitation has been withdrawn."), code="revoked")
    if locked.status == Invitation.Status.PENDING:
        if locked.expires_at <= now:
            raise ServiceError(_("This invitation link has expired."), code="expired")
        locked.status = Invitation.Status.STARTED
        locked.started_at = now
        locked.save(update_fields=["status", "started_at"])
        invitation.status, invitation.started_at = locked.status, locked.started_at
    return invitation


def invitation_time_left(*, invitation: Invitation, now: datetime | None = None) -> int | None:
    """Whole seconds left before the deadline; None before the start, 0 once it passed."""
    deadline = invitation.deadline
    if deadline is None:
        return None
    if invitation.status not in (Invitation.Status.STARTED,):
        return 0
    remaining = (deadline - (now or timezone.now())).total_seconds()
    return max(0, int(remaining))


def _ensure_open_for_answers(invitation: Invitation, now: datetime) -> None:
    if invitation.status in (Invitation.Status.SUBMITTED, Invitation.Status.COMPLETED):
        raise ServiceError(
            _("The answers have already been submitted."),
            code="already_submitted",
            field_errors={"token": [_("This invitation has been used.")]},
        )
    if invitation.status == Invitation.Status.REVOKED:
        raise ServiceError(_("This invitation has been withdrawn."), code="revoked")
    deadline = invitation.deadline
    if deadline is not None and now > deadline + timedelta(seconds=DEADLINE_GRACE_SECONDS):
        raise ServiceError(
            _("The time limit has passed; no more answers are accepted."),
            code="time_up",
            field_errors={"answer": [_("The time limit has passed.")]},
        )


def _assessment_question_ids(assessment: Assessment) -> list[int]:
    return list(assessment.items.order_by("position").values_list("question_id", flat=True))


@transaction.atomic
def invitation_save_answer(
    *, invitation: Invitation, question_id: int, answer: str, now: datetime | None = None
) -> Invitation:
    """Save a draft answer (starting the clock if needed). An empty answer clears the draft."""
    now = now or timezone.now()
    if isinstance(question_id, bool) or not isinstance(question_id, int):
        raise ServiceError(_("Unknown question."), field_errors={"question": [_("A question id is required.")]})
    if not isinstance(answer, str):
        raise ServiceError(_("The answer must be text."), field_errors={"answer": [_("The answer must be text.")]})
    if len(answer) > settings.ANSWER_MAX_CHARS:
        raise ServiceError(
            _("The answer is too long."),
            field_errors={
                "answer": [
                    _("At most %(max)d characters (this one has %(count)d).")
                    % {
                        "max": settings.ANSWER_MAX_CHARS,
                        "count": len(answer),
                    }
                ]
            },
        )
    if invitation.status == Invitation.Status.PENDING:
        invitation_start(invitation=invitation, now=now)
    locked = _refresh_locked(invitation)
    _ensure_open_for_answers(locked, now)
    if question_id not in _assessment_question_ids(locked.assessment):
        raise ServiceError(
            _("This question is not part of the assessment."),
            field_errors={"question": [_("Not a question of this assessment.")]},
        )
    drafts = dict(locked.draft_answers or {})
    if answer.strip():
        drafts[str(question_id)] = answer
    else:
        drafts.pop(str(question_id), None)
    locked.draft_answers = drafts
    locked.save(update_fields=["draft_answers"])
    invitation.draft_answers = drafts
    return invitation


def invitation_submit(*, invitation: Invitation, request_id: str = "", now: datetime | None = None) -> Invitation:
    """Submit the saved answers for grading, once.

    Protocol:
    1. Lock the invitation row; only a started invitation may submit (a second submit,
       concurrent or not, finds it submitted and is refused).
    2. Each non-empty draft becomes an assessment attempt through ``attempt_submit``,
       which sends the grading task on commit. Blank questions get no attempt.
    3. The invitation becomes ``submitted`` in the same transaction, so a grading task
       can never see its attempt before the invitation is marked submitted.
    4. With nothing to grade the invitation is completed at once.
    A submit after the deadline is accepted: the drafts were saved in time.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _refresh_locked(invitation)
        if locked.status == Invitation.Status.PENDING:
            raise ServiceError(
                _("The assessment has not been started."),
                code="not_started",
                field_errors={"token": [_("Start the assessment first.")]},
            )
        if locked.status in (Invitation.Status.SUBMITTED, Invitation.Status.COMPLETED):
            raise ServiceError(
                _("The answers have already been submitted."),
                code="already_submitted",
                field_errors={"token": [_("This invitation has been used.")]},
            )
        if locked.status == Invitation.Status.REVOKED:
            raise ServiceError(_("This invitation has been withdrawn."), code="revoked")
        drafts = locked.draft_answers or {}
        submitted = 0
        for question_id in _assessment_question_ids(locked.assessment):
            answer = (drafts.get(str(question_id)) or "").strip()
            if not answer:
                continue
            try:
                with transaction.atomic():
                    attempt_services.attempt_submit(
                        question_id=question_id, answer=answer, invitation=locked, request_id=request_id
                    )
            except ServiceError as error:
                # The question was archived (or lost its reference) after the assessment was
                # built: the answer stays in the drafts, the question is left out of the total.
                logger.warning("invitation %s: question %s not gradable: %s", locked.pk, question_id, error)
                continue
            submitted += 1
        locked.status = Invitation.Status.SUBMITTED
        locked.submitted_at = now
        locked.save(update_fields=["status", "submitted_at"])
    invitation.status, invitation.submitted_at = locked.status, locked.submitted_at
    if submitted == 0:
        invitation_attempt_finished(invitation_id=invitation.pk)
        invitation.refresh_from_db()
    return invitation


def invitations_submit_overdue(*, now: datetime | None = None) -> list[int]:
    """Submit the saved answers of started invitations whose time ran out (beat task).

    A candidate who closes the tab at the deadline still gets graded on what they saved.
    Each submit locks its row and re-checks the state, so a candidate submitting at the
    same moment wins or loses cleanly (the loser sees ``already_submitted`` and is skipped).
    """
    now = now or timezone.now()
    grace = timedelta(seconds=DEADLINE_GRACE_SECONDS)
    submitted = []
    # Started invitations are few at any moment (candidates currently taking a test).
    started = Invitation.objects.filter(status=Invitation.Status.STARTED, started_at__lte=now - timedelta(minutes=1))
    for invitation in started.select_related("assessment").order_by("started_at"):
        if invitation.deadline is None or invitation.deadline + grace > now:
            continue
        try:
            invitation_submit(invitation=invitation, now=now)
        except ServiceError:
            continue
        submitted.append(invitation.pk)
    return submitted


@shared_task(name="attempts.assessments.submit_overdue_invitations", ignore_result=True)
def submit_overdue_invitations() -> int:
    return len(invitations_submit_overdue())


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> Invitation:
    locked = _refresh_locked(invitation)
    if locked.status not in (Invitation.Status.PENDING, Invitation.Status.STARTED):
        raise ServiceError(_("Only an invitation not yet submitted can be withdrawn."), code="invalid_state")
    locked.status = Invitation.Status.REVOKED
    locked.save(update_fields=["status"])
    invitation.status = locked.status
    return invitation


def invitation_attempt_finished(*, invitation_id: int) -> bool:
    """Complete a submitted invitation once every one of its attempts is finished.

    The grading area calls this after an assessment attempt's final status (graded or
    failed) is committed. Several workers may call it at once for the same invitation:
    the conditional update lets exactly one of them complete it and send the
    ``invitation.completed`` webhooks (on commit). Returns True for that one.
    """
    from attempts.webhooks import webhook_event_emit

    # Reads first, outside any transaction: most calls find work still running and write nothing.
    if (
        Attempt.objects.filter(invitation_id=invitation_id)
        .exclude(status__in=(Attempt.Status.GRADED, Attempt.Status.FAILED))
        .exists()
    ):
        return False
    if not Invitation.objects.filter(pk=invitation_id, status=Invitation.Status.SUBMITTED).exists():
        return False
    with transaction.atomic():
        now = timezone.now()
        changed = Invitation.objects.filter(pk=invitation_id, status=Invitation.Status.SUBMITTED).update(
            status=Invitation.Status.COMPLETED, completed_at=now
        )
        if not changed:
            return False
        invitation = invitation_queryset().get(pk=invitation_id)
        webhook_event_emit(
            event="invitation.completed",
            owner_id=invitation.assessment.owner_id,
            data=invitation_event_data(invitation=invitation),
        )
    return True


# --- Results -------------------------------------------------------------------------


def invitation_queryset() -> QuerySet[Invitation]:
    """Invitations with everything their results need, in a constant number of queries."""
    return Invitation.objects.select_related("assessment").prefetch_related(
        Prefetch("assessment__items", queryset=AssessmentQuestion.objects.select_related("question")),
        Prefetch(
            "attempts",
            queryset=Attempt.objects.prefetch_related(
                Prefetch(
                    "grades",
                    queryset=Grade.objects.filter(is_current=True).select_related("reference_version"),
                    to_attr="_current_grades",
                )
            ),
        ),
    )


@dataclass(frozen=True)
class QuestionResult:
    position: int
    question_id: int
    title: str
    answered: bool
    attempt_id: int | None
    status: str  # "unanswered", or the attempt's status
    score: int | None
    key_points: list[dict[str, Any]]
    misconceptions: list[dict[str, Any]]
    feedback: str
    grader: dict[str, Any] | None
    error: str


def grade_provenance(grade: Grade) -> dict[str, Any]:
    """Who judged, how, and against which reference version (results, API, webhooks)."""
    return {
        "name": grade.grader,
        "model": grade.model,
        "prompt_version": grade.prompt_version,
        "kind": grade.kind,
        "reference_version": grade.reference_version.number,
        "graded_at": grade.created_at.isoformat() if grade.created_at else None,
    }


def invitation_results(*, invitation: Invitation) -> dict[str, Any]:
    """Total, per-question scores with key points, feedback and grader provenance, pass/fail.

    ``total`` is the mean of the per-question scores on 0–100 (blank and failed questions
    count 0) and is final once ``complete`` is true; ``passed`` is None until then.
    Uses prefetched attempts and grades when the invitation came from ``invitation_queryset``.
    """
    assessment = invitation.assessment
    items = assessment_items(assessment=assessment)
    cache = getattr(invitation, "_prefetched_objects_cache", {})
    attempts = (
        list(cache["attempts"])
        if "attempts" in cache
        else list(invitation_queryset().get(pk=invitation.pk).attempts.all())
    )
    by_question = {attempt.question_id: attempt for attempt in attempts}
    submitted = invitation.status in (Invitation.Status.SUBMITTED, Invitation.Status.COMPLETED)
    drafts = invitation.draft_answers or {}
    rows: list[QuestionResult] = []
    for item in items:
        attempt = by_question.get(item.question_id)
        grade = None
        if attempt is not None:
            grades = getattr(attempt, "_current_grades", None)
            if grades is None:
                grades = list(attempt.grades.filter(is_current=True).select_related("reference_version"))
            grade = grades[0] if grades else None
        # Answered but never graded: the question could not take an attempt at submission.
        not_gradable = attempt is None and submitted and bool((drafts.get(str(item.question_id)) or "").strip())
        row_status = attempt.status if attempt is not None else (NOT_GRADABLE if not_gradable else "unanswered")
        rows.append(
            QuestionResult(
                position=item.position,
                question_id=item.question_id,
                title=item.question.title,
                answered=attempt is not None or not_gradable,
                attempt_id=attempt.pk if attempt else None,
                status=row_status,
                # A blank question scores 0 once the answers are in; nothing is known before.
                score=grade.score if grade else (0 if attempt is None and submitted and not not_gradable else None),
                key_points=list(grade.key_points) if grade else [],
                misconceptions=list(grade.misconceptions) if grade else [],
                feedback=grade.feedback if grade else "",
                grader=grade_provenance(grade) if grade else None,
                error=attempt.error_message if attempt and attempt.status == Attempt.Status.FAILED else "",
            )
        )
    complete = invitation.status == Invitation.Status.COMPLETED
    scores = [row.score or 0 for row in rows if row.status != NOT_GRADABLE]
    total = (
        round(sum(scores) / len(scores))
        if scores
        and invitation.status
        in (
            Invitation.Status.SUBMITTED,
            Invitation.Status.COMPLETED,
        )
        else None
    )
    return {
        "status": invitation.status,
        "complete": complete,
        "total": total,
        "pass_score": assessment.pass_score,
        "passed": (total is not None and total >= assessment.pass_score) if complete else None,
        "graded": sum(1 for row in rows if row.grader is not None),
        "questions": [row.__dict__ for row in rows],
    }


def invitation_event_data(*, invitation: Invitation) -> dict[str, Any]:
    """The ``data`` of an ``invitation.completed`` event."""
    return {
        "invitation": {
            "id": invitation.pk,
            "assessment_id": invitation.assessment_id,
            "assessment_title": invitation.assessment.title,
            "candidate_name": invitation.candidate_name,
            "candidate_email": invitation.candidate_email,
            "status": invitation.status,
            "started_at": invitation.started_at.isoformat() if invitation.started_at else None,
            "submitted_at": invitation.submitted_at.isoformat() if invitation.submitted_at else None,
            "completed_at": invitation.completed_at.isoformat() if invitation.completed_at else None,
        },
        "results": invitation_results(invitation=invitation),
    }


def invitations_for_assessment(*, assessment: Assessment) -> QuerySet[Invitation]:
    return invitation_queryset().filter(assessment=assessment).order_by("created_at", "id")


def assessment_results_rows(*, assessment: Assessment) -> Iterable[tuple[Invitation, dict[str, Any]]]:
    """(invitation, results) for every invitation of an assessment, for the CSV export."""
    for invitation in invitations_for_assessment(assessment=assessment):
        yield invitation, invitation_results(invitation=invitation)


# --- CSV export ----------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def assessment_results_csv(*, assessment: Assessment) -> str:
    """One row per invitation: candidate, status, times, total, passed, each question's score."""
    items = assessment_items(assessment=assessment)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["invitation_id", "candidate_name", "candidate_email", "status", "started_at", "submitted_at"]
    header += ["completed_at", "total", "passed"]
    header += [f"Q{item.position} ({item.question_id}) score" for item in items]
    writer.writerow(header)
    for invitation, results in assessment_results_rows(assessment=assessment):
        scores = {row["question_id"]: row["score"] for row in results["questions"]}
        passed = results["passed"]
        row = [
            invitation.pk,
            invitation.candidate_name,
            invitation.candidate_email,
            invitation.status,
            invitation.started_at.isoformat() if invitation.started_at else "",
            invitation.submitted_at.isoformat() if invitation.submitted_at else "",
            invitation.completed_at.isoformat() if invitation.completed_at else "",
            results["total"],
            "" if passed is None else ("yes" if passed else "no"),
            *[scores.get(item.question_id) for item in items],
        ]
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()
