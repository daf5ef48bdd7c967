"""Submission and grading: the attempt state machine and grade provenance.

Attempt status: ``queued → grading → graded | failed``.

- ``attempt_submit`` stores a ``queued`` attempt and sends ``grade_attempt`` on commit.
- The task claims the attempt (``queued → grading``) with a conditional update, calls the
  grader outside any transaction, then records the result (``grading → graded``) only if
  its claim still holds, so a duplicate or stale delivery can never write a second grade.
- A transient grader error puts the attempt back to ``queued`` for the task's retry; a
  permanent one, or retries exhausted, marks it ``failed`` with a readable reason.
- ``attempts_sweep_stale`` re-sends attempts left ``queued`` or ``grading`` too long: the
  database row is the truth, the broker only a delivery mechanism.
- ``attempt_retry`` sends a failed attempt again (its owner or an expert).

Grades: exactly one per attempt is current (database constraint); a regrade or an
expert's override adds a grade and makes it current, the earlier ones stay as history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import is_expert
from attempts.graders import GraderError, GradingRequest, GradingResult, grader_from_settings, key_points_derive
from attempts.models import Attempt, Grade, Invitation, RegradeRun
from interview_platform.errors import ServiceError
from questions.models import Question, ReferenceAnswerVersion

logger = logging.getLogger(__name__)

TIME_SPENT_MAX_S = 7 * 24 * 3600
ERROR_MESSAGE_MAX_CHARS = 1000
SWEEP_BATCH = 500


# --- Submission ------------------------------------------------------------------------


def attempt_submit(
    *,
    question_id: int,
    answer: str,
    user: Any = None,
    invitation: Invitation | None = None,
    time_spent_s: int | None = None,
    request_id: str = "",
) -> Attempt:
    """Store an answer as a ``queued`` attempt and send it to grading once committed.

    Practice attempts belong to a user, assessment attempts to an invitation (exactly one
    of the two). The published reference version is snapshotted: the attempt is judged
    against it even if a new version is published before grading. A broker that is down
    does not fail the submission: the attempt stays queued and the sweeper sends it.
    """
    if (user is None) == (invitation is None):
        raise ServiceError(_("An attempt belongs to a user or to an invitation."), code="invalid_owner")
    field_errors: dict[str, list[str]] = {}
    question = Question.objects.filter(pk=question_id).first() if _is_int(question_id) else None
    version = None
    if question is None:
        field_errors["question"] = [_("No question with this id.")]
    elif not question.is_active:
        field_errors["question"] = [_("This question is archived.")]
    else:
        version = question.versions.filter(status=ReferenceAnswerVersion.Status.PUBLISHED).first()
        if version is None:
            field_errors["question"] = [_("This question has no published reference answer yet.")]
    text = answer.strip() if isinstance(answer, str) else None
    if text is None:
        field_errors["answer"] = [_("The answer must be text.")]
    elif not text:
        field_errors["answer"] = [_("The answer is empty.")]
    elif len(text) > settings.ANSWER_MAX_CHARS:
        field_errors["answer"] = [
            _("The answer is %(length)d characters long; at most %(limit)d are allowed.")
            % {"length": len(text), "limit": settings.ANSWER_MAX_CHARS}
        ]
    elif "\x00" in text:
        field_errors["answer"] = [_("The answer contains a NUL character.")]
    if time_spent_s is not None and (not _is_int(time_spent_s) or not 0 <= time_spent_s <= TIME_SPENT_MAX_S):
        field_errors["time_spent_s"] = [
            _("Time spent must be a whole number of seconds from 0 to %(max)d.") % {"max": TIME_SPENT_MAX_S}
        ]
    if field_errors:
        message = next(iter(field_errors.values()))[0]
        raise ServiceError(message, field_errors=field_errors)

    now = timezone.now()
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                user=user if invitation is None else None,
                invitation=invitation,
                question=question,
                answer=text,
                reference_version=version,
                status=Attempt.Status.QUEUED,
                mode=Attempt.Mode.PRACTICE if invitation is None else Attempt.Mode.ASSESSMENT,
                time_spent_s=time_spent_s,
                enqueued_at=now,
                request_id=(request_id or "")[:64],
            )
    except IntegrityError:
        if invitation is not None and Attempt.objects.filter(invitation=invitation, question=question).exists():
            raise ServiceError(
                _("This question has already been answered in this assessment."),
                code="duplicate",
                field_errors={"question": [_("Already answered.")]},
                status_code=409,
            ) from None
        raise
    transaction.on_commit(partial(attempt_send_to_grading, attempt.pk, attempt.request_id))
    logger.info("attempt %s submitted (question %s, request %s)", attempt.pk, question.pk, request_id or "-")
    return attempt


def attempt_retry(*, attempt: Attempt, actor: Any) -> Attempt:
    """Send a failed attempt to grading again. Its owner or an expert may; nobody else."""
    if not (actor is not None and getattr(actor, "is_authenticated", False)):
        raise ServiceError(_("Sign in to retry grading."), code="permission_denied", status_code=403)
    if attempt.user_id != actor.pk and not is_expert(actor):
        raise ServiceError(
            _("Only the author of the answer or an expert can retry its grading."),
            code="permission_denied",
            status_code=403,
        )
    attempt = attempt_send_again(
        attempt=attempt,
        from_status=Attempt.Status.FAILED,
        refusal=_("Only a failed attempt can be sent to grading again (this one is %(status)s)."),
    )
    logger.info("attempt %s sent to grading again by user %s", attempt.pk, actor.pk)
    return attempt


def attempt_send_again(*, attempt: Attempt, from_status: str, refusal: str) -> Attempt:
    """Put an attempt in ``from_status`` back to ``queued`` and send it on commit.

    A conditional update, so two concurrent requests send it once; any other status is
    refused with 409 and ``refusal`` (which may name the current ``%(status)s``).
    """
    now = timezone.now()
    with transaction.atomic():
        changed = Attempt.objects.filter(pk=attempt.pk, status=from_status).update(
            status=Attempt.Status.QUEUED, error_message="", enqueued_at=now, grading_started_at=None, updated_at=now
        )
        if not changed:
            attempt.refresh_from_db()
            raise ServiceError(
                refusal % {"status": attempt.get_status_display()}, code="invalid_state", status_code=409
            )
        transaction.on_commit(partial(attempt_send_to_grading, attempt.pk, attempt.request_id))
    attempt.refresh_from_db()
    return attempt


def attempt_send_to_grading(attempt_id: int, request_id: str = "") -> bool:
    """Publish the grading task. A broker failure is logged, never raised: the row stays
    ``queued`` with no ``enqueued_at`` and the sweeper sends it on its next run.

    The submission's request id travels in the message headers, so the worker's log lines
    for this attempt carry it even when the sweeper sends it again.
    """
    from attempts.tasks import grade_attempt

    try:
        grade_attempt.apply_async(args=[attempt_id], headers={"request_id": request_id} if request_id else None)
    except Exception:
        logger.exception("attempt %s: could not reach the broker; the sweeper will send it again", attempt_id)
        Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.QUEUED).update(enqueued_at=None)
        return False
    return True


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- Grading (called by the task) ----------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """The right to grade an attempt, valid while ``grading_tries`` still equals ``tries``."""

    attempt_id: int
    tries: int


def attempt_claim(*, attempt_id: int) -> Claim | None:
    """Take an attempt for grading: ``queued → grading``. None when there is nothing to do.

    A ``grading`` attempt whose claim is older than ``GRADING_STALE_AFTER_SECONDS`` may be
    taken too: its worker died (a redelivered message then needs no sweeper).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GRADING_STALE_AFTER_SECONDS)
    changed = Attempt.objects.filter(
        Q(status=Attempt.Status.QUEUED) | Q(status=Attempt.Status.GRADING, grading_started_at__lt=stale),
        pk=attempt_id,
    ).update(
        status=Attempt.Status.GRADING,
        grading_tries=F("grading_tries") + 1,
        grading_started_at=now,
        updated_at=now,
    )
    if not changed:
        return None
    tries = Attempt.objects.filter(pk=attempt_id).values_list("grading_tries", flat=True).first()
    return Claim(attempt_id=attempt_id, tries=tries) if tries is not None else None


def attempt_grade(*, claim: Claim) -> Grade | None:
    """Grade a claimed attempt against its snapshotted version and record the grade.

    Raises ``GraderError`` (the task decides about retries). Returns None when the claim
    was lost meanwhile (the sweeper gave the attempt to another worker).
    """
    attempt = Attempt.objects.select_related("question", "reference_version").get(pk=claim.attempt_id)
    result = _grade(attempt=attempt, version=attempt.reference_version)
    with transaction.atomic():
        # The row lock keeps the sweeper from voiding the claim between this check and the
        # status change; the status changes last, once the grade is in place.
        if not _claimed(claim).select_for_update().exists():
            logger.warning("attempt %s: claim %s lost before the grade was recorded", attempt.pk, claim.tries)
            return None
        grade = _grade_create(attempt=attempt, version=attempt.reference_version, result=result)
        _make_current(attempt=attempt, grade=grade)
        _claimed(claim).update(
            status=Attempt.Status.GRADED, graded_at=timezone.now(), error_message="", updated_at=timezone.now()
        )
        attempt.status = Attempt.Status.GRADED
        _finished_on_commit(attempt)
    logger.info("attempt %s graded %s by %s/%s", attempt.pk, grade.score, grade.grader, grade.model)
    return grade


def attempt_requeue(*, claim: Claim, error: Exception, retry_in_s: float) -> bool:
    """After a transient error: back to ``queued`` so the retried task can claim it again."""
    now = timezone.now()
    changed = _claimed(claim).update(
        status=Attempt.Status.QUEUED,
        grading_started_at=None,
        enqueued_at=now + timedelta(seconds=retry_in_s),
        updated_at=now,
    )
    logger.warning("attempt %s: transient grading error, retry in %.1f s: %s", claim.attempt_id, retry_in_s, error)
    return bool(changed)


def attempt_fail(*, claim: Claim, reason: str) -> bool:
    """Mark a claimed attempt ``failed`` with a reason a person can read."""
    reason = (reason or _("Grading failed for an unknown reason.")).strip()[:ERROR_MESSAGE_MAX_CHARS]
    with transaction.atomic():
        changed = _claimed(claim).update(status=Attempt.Status.FAILED, error_message=reason, updated_at=timezone.now())
        if changed:
            attempt = Attempt.objects.get(pk=claim.attempt_id)
            _finished_on_commit(attempt)
    if changed:
        logger.warning("attempt %s failed: %s", claim.attempt_id, reason)
    return bool(changed)


def _claimed(claim: Claim) -> Any:
    return Attempt.objects.filter(pk=claim.attempt_id, status=Attempt.Status.GRADING, grading_tries=claim.tries)


def attempts_sweep_stale(*, now: datetime | None = None) -> list[int]:
    """Send again what the broker lost: attempts ``queued`` or ``grading`` for too long.

    1. ``queued`` whose last send is older than the threshold (or never reached the broker).
    2. ``grading`` whose claim is older than the threshold: the worker died mid-grade. It is
       reset to ``queued`` (which voids the dead worker's claim) before being sent.
    Each is sent again; a second copy of a message still in flight is harmless, the claim
    lets one through. Returns the ids sent.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.GRADING_STALE_AFTER_SECONDS)
    stale_grading = list(
        Attempt.objects.filter(status=Attempt.Status.GRADING, grading_started_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:SWEEP_BATCH]
    )
    if stale_grading:
        Attempt.objects.filter(
            pk__in=stale_grading, status=Attempt.Status.GRADING, grading_started_at__lt=cutoff
        ).update(status=Attempt.Status.QUEUED, grading_started_at=None, enqueued_at=None, updated_at=now)
    stale_queued = list(
        Attempt.objects.filter(status=Attempt.Status.QUEUED)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", "request_id")[:SWEEP_BATCH]
    )
    sent = []
    for attempt_id, request_id in stale_queued:
        Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.QUEUED).update(enqueued_at=now)
        if attempt_send_to_grading(attempt_id, request_id):
            sent.append(attempt_id)
        else:
            break  # the broker is down: the next sweep tries again
    if sent or stale_grading:
        logger.warning("sweeper: %d stale grading reset, %d attempts sent again", len(stale_grading), len(sent))
    return sent


# --- Grades ------------------------------------------------------------------------------


def grading_request_build(*, attempt: Attempt, version: ReferenceAnswerVersion) -> GradingRequest:
    """What the grader sees: the question, the version's answer and rubric, the answer."""
    key_points = tuple(str(point) for point in (version.key_points or []) if str(point).strip())
    return GradingRequest(
        question=attempt.question.title,
        reference_answer=version.body,
        key_points=key_points or key_points_derive(version.body),
        misconceptions=tuple(str(item) for item in (version.misconceptions or []) if str(item).strip()),
        answer=attempt.answer,
    )


def _grade(*, attempt: Attempt, version: ReferenceAnswerVersion) -> GradingResult:
    """Call the configured grader. Callers keep this outside transactions: it may wait on the network."""
    return grader_from_settings().grade(grading_request_build(attempt=attempt, version=version))


def grade_attempt_against(
    *,
    attempt: Attempt,
    version: ReferenceAnswerVersion,
    make_current: bool,
    regrade_run: RegradeRun | None = None,
    reason: str = "",
) -> Grade:
    """Grade an attempt now against ``version`` (a regrade). Raises ``GraderError``.

    With ``make_current=False`` the grade is written as history only (a regrade dry run);
    ``grade_make_current`` applies it later.
    """
    if version.question_id != attempt.question_id:
        raise ServiceError(_("The version belongs to another question."), code="invalid_version")
    result = _grade(attempt=attempt, version=version)
    with transaction.atomic():
        grade = _grade_create(attempt=attempt, version=version, result=result, regrade_run=regrade_run, reason=reason)
        if make_current:
            grade = grade_make_current(grade=grade, reason=reason)
    return grade


@transaction.atomic
def grade_make_current(*, grade: Grade, reason: str = "") -> Grade:
    """Make ``grade`` its attempt's current grade; the previous one stays as history."""
    attempt = Attempt.objects.select_for_update().get(pk=grade.attempt_id)
    if reason and reason != grade.reason:
        grade.reason = reason
        Grade.objects.filter(pk=grade.pk).update(reason=reason)
    was_finished = attempt.is_finished
    if attempt.status in (Attempt.Status.QUEUED, Attempt.Status.FAILED):
        # A grade given while the attempt waits or after it failed settles it.
        Attempt.objects.filter(pk=attempt.pk).update(
            status=Attempt.Status.GRADED, graded_at=timezone.now(), error_message="", updated_at=timezone.now()
        )
        attempt.refresh_from_db()
    _make_current(attempt=attempt, grade=grade)
    if not was_finished:
        _finished_on_commit(attempt)
    grade.refresh_from_db()
    return grade


def grade_override(*, attempt: Attempt, expert: Any, score: int, feedback: str, reason: str) -> Grade:
    """An expert's judgement replaces the automatic one (kind ``override``, grader ``expert``)."""
    if expert is None or not is_expert(expert):
        raise ServiceError(_("Only an expert can override a grade."), code="permission_denied", status_code=403)
    field_errors: dict[str, list[str]] = {}
    if not _is_int(score) or not 0 <= score <= 100:
        field_errors["score"] = [_("The score must be a whole number from 0 to 100.")]
    feedback = feedback.strip() if isinstance(feedback, str) else ""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not feedback:
        field_errors["feedback"] = [_("Write feedback for the trainee.")]
    elif len(feedback) > 5000:
        field_errors["feedback"] = [_("The feedback is longer than 5000 characters.")]
    if not reason:
        field_errors["reason"] = [_("Say why the grade is overridden.")]
    if field_errors:
        raise ServiceError(next(iter(field_errors.values()))[0], field_errors=field_errors)
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if not locked.is_finished:
            raise ServiceError(
                _("The attempt is still being graded; override it once grading has finished."),
                code="invalid_state",
                status_code=409,
            )
        previous = Grade.objects.filter(attempt=locked, is_current=True).first()
        grade = Grade.objects.create(
            attempt=locked,
            reference_version=previous.reference_version if previous else locked.reference_version,
            kind=Grade.Kind.OVERRIDE,
            score=score,
            # The expert sets the score and the feedback; the rubric analysis stays for reference.
            key_points=previous.key_points if previous else [],
            misconceptions=previous.misconceptions if previous else [],
            feedback=feedback,
            grader="expert",
            model="",
            reason=reason,
            created_by=expert,
        )
        return grade_make_current(grade=grade, reason=reason)


def _grade_create(
    *,
    attempt: Attempt,
    version: ReferenceAnswerVersion,
    result: GradingResult,
    regrade_run: RegradeRun | None = None,
    reason: str = "",
) -> Grade:
    return Grade.objects.create(
        attempt=attempt,
        reference_version=version,
        kind=Grade.Kind.AUTO,
        is_current=False,
        score=result.score,
        key_points=result.key_points_json(),
        misconceptions=result.misconceptions_json(),
        feedback=result.feedback,
        grader=result.grader,
        model=result.model[:120],
        prompt_version=result.prompt_version[:40],
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        latency_ms=result.latency_ms,
        raw_response=result.raw_response,
        regrade_run=regrade_run,
        reason=reason,
    )


def _make_current(*, attempt: Attempt, grade: Grade) -> None:
    """Inside a transaction: flip ``is_current`` (old first, for the unique constraint)."""
    Grade.objects.filter(attempt_id=attempt.pk, is_current=True).exclude(pk=grade.pk).update(is_current=False)
    Grade.objects.filter(pk=grade.pk).update(is_current=True)
    grade.is_current = True
    if attempt.mode == Attempt.Mode.PRACTICE:
        from attempts.reviews import review_record_grade

        review_record_grade(attempt=attempt, grade=grade)


def _finished_on_commit(attempt: Attempt) -> None:
    """An assessment attempt reached graded or failed: its invitation may be complete."""
    if attempt.invitation_id is None:
        return
    transaction.on_commit(partial(_invitation_attempt_finished, attempt.invitation_id))


def _invitation_attempt_finished(invitation_id: int) -> None:
    from attempts.assessments import invitation_attempt_finished

    try:
        invitation_attempt_finished(invitation_id=invitation_id)
    except Exception:  # the grade is committed; completion is re-checked by the next attempt or an admin
        logger.exception("invitation %s: completion check failed", invitation_id)


__all__ = [
    "Claim",
    "GraderError",
    "attempt_claim",
    "attempt_fail",
    "attempt_grade",
    "attempt_requeue",
    "attempt_retry",
    "attempt_submit",
    "attempts_sweep_stale",
    "grade_attempt_against",
    "grade_make_current",
    "grade_override",
    "grading_request_build",
]
