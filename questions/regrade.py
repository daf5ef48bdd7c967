"""Regrading the attempts a correction affects.

When a reviewer publishes a new reference version, the attempts whose current grade was
judged against a now superseded version may deserve a different score. A ``RegradeRun``
handles them in two steps:

1. **Dry run** (``regrade_run_start``): the attempts are listed once, the run records how
   many (``total``), and one Celery task per attempt (``questions.tasks.regrade_attempt``,
   on the ``grading`` queue) grades the attempt against the run's target version through
   the grading area's ``grade_attempt_against(..., make_current=False)``. The new grades
   are *not current*: trainees see nothing yet. Progress (``done``/``failed``) is
   recomputed from the grades written, so a redelivered task never counts twice.
2. **Apply** (``regrade_run_apply``): each new grade becomes current through
   ``grade_make_current`` with a reason trainees read ("参考答案更新至 v3 后重新评分"); the
   old grades stay as history.

A run targets the published version at its start; if another version is published before
it is applied, applying is refused (``stale_version``) and a new run must be started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import UserLike, is_expert
from attempts.models import Attempt, Grade, RegradeRun
from interview_platform.errors import ServiceError
from questions.models import Question, ReferenceAnswerVersion

logger = logging.getLogger(__name__)

RunStatus = RegradeRun.Status
ACTIVE_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.READY)


# --- Reads --------------------------------------------------------------------------------------


def regrade_candidates(*, question: Question) -> QuerySet[Attempt]:
    """Graded attempts of ``question`` whose current grade was judged against a superseded version."""
    return (
        Attempt.objects.filter(
            question=question,
            status=Attempt.Status.GRADED,
            grades__is_current=True,
            grades__reference_version__status=ReferenceAnswerVersion.Status.SUPERSEDED,
        )
        .distinct()
        .order_by("id")
    )


@dataclass(frozen=True)
class RegradeOverview:
    published: ReferenceAnswerVersion | None
    affected: int
    runs: list[RegradeRun]

    @property
    def active_run(self) -> RegradeRun | None:
        return next((run for run in self.runs if run.status in ACTIVE_STATUSES), None)


def regrade_overview(*, question: Question) -> RegradeOverview:
    """What the question page shows: how many attempts a regrade would touch, and recent runs."""
    published = question.versions.filter(status=ReferenceAnswerVersion.Status.PUBLISHED).first()
    runs = list(
        RegradeRun.objects.filter(question=question)
        .select_related("target_version", "created_by", "applied_by")
        .order_by("-created_at", "-id")[:5]
    )
    return RegradeOverview(published=published, affected=regrade_candidates(question=question).count(), runs=runs)


def regrade_run_get(*, question: Question, run_id: int) -> RegradeRun | None:
    return (
        RegradeRun.objects.select_related("target_version", "created_by", "applied_by", "question")
        .filter(question=question, pk=run_id)
        .first()
    )


@dataclass(frozen=True)
class RegradeRow:
    attempt: Attempt
    old_grade: Grade | None
    new_grade: Grade

    @property
    def old_score(self) -> int | None:
        return self.old_grade.score if self.old_grade else None

    @property
    def new_score(self) -> int:
        return self.new_grade.score

    @property
    def delta(self) -> int | None:
        return None if self.old_score is None else self.new_score - self.old_score


def _was_current(grade: Grade) -> bool:
    """A grade that trainees saw: never a dry-run grade that was not applied."""
    return grade.is_current or grade.regrade_run_id is None or grade.regrade_run.status == RunStatus.APPLIED


def regrade_run_results(*, run: RegradeRun) -> list[RegradeRow]:
    """Old score → new score per attempt of the run (two queries whatever the size).

    The old grade is the one that was current before the run: the current grade while the
    run is not applied, otherwise the latest earlier grade outside the run.
    """
    new_grades = list(
        Grade.objects.filter(regrade_run=run).select_related("attempt", "attempt__user").order_by("attempt_id", "-id")
    )
    latest_new: dict[int, Grade] = {}
    for grade in new_grades:
        latest_new.setdefault(grade.attempt_id, grade)
    history: dict[int, list[Grade]] = {}
    for grade in (
        Grade.objects.filter(attempt_id__in=latest_new.keys())
        .exclude(regrade_run=run)
        .select_related("regrade_run")
        .order_by("attempt_id", "-id")
    ):
        history.setdefault(grade.attempt_id, []).append(grade)
    applied = run.status == RunStatus.APPLIED
    rows = []
    for attempt_id, new_grade in latest_new.items():
        others = history.get(attempt_id, [])
        if applied:
            old = next((g for g in others if g.pk < new_grade.pk and _was_current(g)), None)
        else:
            old = next((g for g in others if g.is_current), None)
        rows.append(RegradeRow(attempt=new_grade.attempt, old_grade=old, new_grade=new_grade))
    return rows


# --- Writes --------------------------------------------------------------------------------------


def _require_expert(actor: UserLike) -> None:
    if actor is None or not is_expert(actor):
        raise ServiceError(_("Only experts may regrade attempts."), code="permission_denied", status_code=403)


def regrade_reason(version: ReferenceAnswerVersion) -> str:
    """The reason trainees read next to a grade changed by a regrade."""
    return f"参考答案更新至 v{version.number} 后重新评分"


@transaction.atomic
def regrade_run_start(*, question: Question, actor: UserLike) -> RegradeRun:
    """Start a dry run over the affected attempts; tasks are sent when the transaction commits."""
    _require_expert(actor)
    Question.objects.select_for_update().get(pk=question.pk)
    published = question.versions.filter(status=ReferenceAnswerVersion.Status.PUBLISHED).first()
    if published is None:
        raise ServiceError(_("The question has no published version to regrade against."), code="invalid_state")
    active = RegradeRun.objects.filter(question=question, status__in=ACTIVE_STATUSES).first()
    if active is not None:
        raise ServiceError(
            _("Regrade #%(id)d is still %(status)s; apply or cancel it first.")
            % {"id": active.pk, "status": active.get_status_display()},
            code="invalid_state",
            status_code=409,
        )
    attempt_ids = list(regrade_candidates(question=question).values_list("id", flat=True))
    if not attempt_ids:
        raise ServiceError(_("No attempt is graded against a superseded version."), code="nothing_to_do")
    run = RegradeRun.objects.create(
        question=question,
        target_version=published,
        status=RunStatus.RUNNING,
        total=len(attempt_ids),
        created_by=actor,
    )

    transaction.on_commit(partial(_send, run.pk, attempt_ids))
    return run


def _send(run_id: int, attempt_ids: list[int]) -> None:
    """Send one task per attempt (after commit). A broker failure is noted on the run, not raised:
    the run page then offers "send again" (``regrade_run_resume``)."""
    from questions.tasks import regrade_attempt

    for attempt_id in attempt_ids:
        try:
            regrade_attempt.delay(run_id, attempt_id)
        except Exception as error:  # the broker is unreachable: keep the request alive, say so
            logger.exception("regrade run %s: could not send attempt %s", run_id, attempt_id)
            RegradeRun.objects.filter(pk=run_id).update(
                error_message=f"Could not reach the task queue ({error.__class__.__name__}); send the run again."
            )
            return


@transaction.atomic
def regrade_run_resume(*, run: RegradeRun, actor: UserLike) -> int:
    """Send the tasks of a running run again for the attempts it has not graded yet.

    For runs whose messages were lost (broker down at the start). Safe to repeat: a task for
    an attempt already graded in the run only recounts progress. Returns how many were sent.
    """
    _require_expert(actor)
    locked = RegradeRun.objects.select_for_update().get(pk=run.pk)
    if locked.status != RunStatus.RUNNING:
        raise ServiceError(
            _("Only a running regrade can be sent again (this one is %(status)s).")
            % {"status": locked.get_status_display()},
            code="invalid_state",
            status_code=409,
        )
    graded = set(Grade.objects.filter(regrade_run=locked).values_list("attempt_id", flat=True))
    pending = [
        pk for pk in regrade_candidates(question=locked.question).values_list("id", flat=True) if pk not in graded
    ]
    locked.total = len(graded) + len(pending)
    locked.failed = 0
    locked.error_message = ""
    locked.save(update_fields=["total", "failed", "error_message"])
    transaction.on_commit(partial(_send, locked.pk, pending))
    if not pending:
        transaction.on_commit(partial(_progress_refresh, run_id=locked.pk))
    return len(pending)


def regrade_attempt_execute(*, run_id: int, attempt_id: int) -> Grade | None:
    """Grade one attempt of a run against the run's target version, as a non-current grade.

    Idempotent: an attempt that already has a grade in this run is not graded again. The
    grading call (possibly an LLM request) runs outside any transaction. Exceptions from
    the grader propagate so the task can decide whether to retry.
    """
    from attempts.services import grade_attempt_against

    run = RegradeRun.objects.select_related("target_version").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING:
        return None
    attempt = Attempt.objects.select_related("question").filter(pk=attempt_id, question_id=run.question_id).first()
    if attempt is None:
        regrade_attempt_failed(run_id=run_id, attempt_id=attempt_id, message="attempt no longer exists")
        return None
    existing = Grade.objects.filter(attempt=attempt, regrade_run=run).first()
    if existing is not None:
        _progress_refresh(run_id=run_id)
        return existing
    grade = grade_attempt_against(
        attempt=attempt,
        version=run.target_version,
        make_current=False,
        regrade_run=run,
        reason=regrade_reason(run.target_version),
    )
    _progress_refresh(run_id=run_id)
    return grade


def regrade_attempt_failed(*, run_id: int, attempt_id: int, message: str) -> None:
    """Record that one attempt could not be regraded (after the task's retries)."""
    logger.warning("regrade run %s: attempt %s failed: %s", run_id, attempt_id, message)
    with transaction.atomic():
        run = RegradeRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        run.failed = min(run.failed + 1, max(run.total - run.done, 0))
        note = f"#{attempt_id}: {message}"[:500]
        run.error_message = (run.error_message + "\n" + note).strip()[-4000:]
        run.save(update_fields=["failed", "error_message"])
    _progress_refresh(run_id=run_id)


def _progress_refresh(*, run_id: int) -> None:
    """Recount ``done`` from the grades written; a finished run becomes ``ready``."""
    with transaction.atomic():
        run = RegradeRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        run.done = Grade.objects.filter(regrade_run=run).values("attempt_id").distinct().count()
        fields = ["done"]
        if run.status == RunStatus.RUNNING and run.done + run.failed >= run.total:
            run.status = RunStatus.READY if run.done else RunStatus.FAILED
            run.finished_at = timezone.now()
            fields += ["status", "finished_at"]
        run.save(update_fields=fields)


@transaction.atomic
def regrade_run_apply(*, run: RegradeRun, actor: UserLike, reason: str | None = None) -> int:
    """Make the run's grades current (old grades stay as history). Returns how many changed."""
    from attempts.services import grade_make_current

    _require_expert(actor)
    locked = RegradeRun.objects.select_for_update(of=("self",)).select_related("target_version").get(pk=run.pk)
    if locked.status != RunStatus.READY:
        raise ServiceError(
            _("Only a finished dry run can be applied (this one is %(status)s).")
            % {"status": locked.get_status_display()},
            code="invalid_state",
            status_code=409,
        )
    if locked.target_version.status != ReferenceAnswerVersion.Status.PUBLISHED:
        raise ServiceError(
            _("v%(number)d is no longer the published version; start a new regrade.")
            % {"number": locked.target_version.number},
            code="stale_version",
            status_code=409,
        )
    why = reason or regrade_reason(locked.target_version)
    changed = 0
    seen: set[int] = set()
    for grade in Grade.objects.filter(regrade_run=locked).select_related("attempt").order_by("attempt_id", "-id"):
        if grade.attempt_id in seen:
            continue
        seen.add(grade.attempt_id)
        if not grade.is_current:
            grade_make_current(grade=grade, reason=why)
            changed += 1
    locked.status = RunStatus.APPLIED
    locked.applied_by = actor
    locked.applied_at = timezone.now()
    locked.save(update_fields=["status", "applied_by", "applied_at"])
    run.status, run.applied_by, run.applied_at = locked.status, locked.applied_by, locked.applied_at
    return changed


@transaction.atomic
def regrade_run_cancel(*, run: RegradeRun, actor: UserLike) -> RegradeRun:
    """Stop a run that is not applied; its dry-run grades stay, never current."""
    _require_expert(actor)
    locked = RegradeRun.objects.select_for_update().get(pk=run.pk)
    if locked.status not in ACTIVE_STATUSES:
        raise ServiceError(
            _("This regrade is %(status)s; it cannot be cancelled.") % {"status": locked.get_status_display()},
            code="invalid_state",
            status_code=409,
        )
    locked.status = RunStatus.CANCELLED
    locked.finished_at = locked.finished_at or timezone.now()
    locked.save(update_fields=["status", "finished_at"])
    return locked
