"""Celery tasks of grading: thin shells over ``attempts.services`` that decide retries.

``grade_attempt`` runs on the ``grading`` queue (a thread pool in production: it waits on
the network). It is late-acknowledged and rejected on worker loss, so a killed worker's
message is delivered again; the claim in ``attempt_claim`` makes every extra delivery a
no-op, and ``sweep_stale_attempts`` (beat) recovers what no message will bring back.
"""

from __future__ import annotations

import logging
import random

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from attempts import services
from attempts.graders import GraderError

logger = logging.getLogger(__name__)


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: half the step fixed, half random (avoids herds after a 429)."""
    step = min(settings.GRADING_RETRY_BACKOFF_MAX_SECONDS, settings.GRADING_RETRY_BACKOFF_SECONDS * 2**retries)
    return step / 2 + random.uniform(0, step / 2)


@shared_task(
    bind=True,
    name="attempts.tasks.grade_attempt",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # the limit is GRADING_MAX_RETRIES, checked below
)
def grade_attempt(self: Task, attempt_id: int) -> str:
    """Grade one attempt. Returns what happened: graded, skipped, retrying, failed."""
    claim = services.attempt_claim(attempt_id=attempt_id)
    if claim is None:
        logger.info("attempt %s: not queued (already taken or finished); nothing to do", attempt_id)
        return "skipped"
    try:
        grade = services.attempt_grade(claim=claim)
    except GraderError as error:
        if error.permanent:
            services.attempt_fail(claim=claim, reason=str(error))
            return "failed"
        return _retry_or_fail(self, claim, error)
    except SoftTimeLimitExceeded:
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        return _retry_or_fail(self, claim, GraderError(f"Grading took longer than {limit} s."))
    except Exception as error:  # a bug or a broken dependency: retried, then a readable failure
        logger.exception("attempt %s: unexpected error while grading", attempt_id)
        return _retry_or_fail(self, claim, GraderError(f"Unexpected error while grading: {error!r}"))
    return "graded" if grade is not None else "skipped"


def _retry_or_fail(task: Task, claim: services.Claim, error: GraderError) -> str:
    retries = task.request.retries or 0
    if retries >= settings.GRADING_MAX_RETRIES:
        services.attempt_fail(claim=claim, reason=f"Grading failed after {retries + 1} tries. Last error: {error}")
        return "failed"
    countdown = retry_countdown(retries)
    if not services.attempt_requeue(claim=claim, error=error, retry_in_s=countdown):
        return "skipped"  # the claim was lost; whoever holds the attempt now finishes it
    raise task.retry(countdown=countdown, max_retries=None, exc=error)


@shared_task(name="attempts.tasks.sweep_stale_attempts", acks_late=False)
def sweep_stale_attempts() -> int:
    """Beat: send again the attempts left ``queued`` or ``grading`` past the threshold."""
    return len(services.attempts_sweep_stale())
