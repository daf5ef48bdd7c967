"""Celery tasks of the question bank: regrading after a correction (thin shells over ``questions.regrade``)."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from questions import regrade

logger = logging.getLogger(__name__)

MAX_RETRIES = 4


@shared_task(name="questions.tasks.regrade_attempt", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def regrade_attempt(self: Task, run_id: int, attempt_id: int) -> None:
    """Grade one attempt of a regrade run against its target version (a non-current grade).

    Routed to the ``grading`` queue. Idempotent (a redelivery finds the grade and only
    recounts progress). An error the grader marks ``permanent=True`` is recorded at once;
    others are retried with exponential backoff, then recorded as a failure of this attempt.
    """
    try:
        regrade.regrade_attempt_execute(run_id=run_id, attempt_id=attempt_id)
    except SoftTimeLimitExceeded as error:
        _retry_or_fail(self, run_id, attempt_id, error)
    except Exception as error:  # the grader's errors: permanent or worth a retry
        if getattr(error, "permanent", False):
            regrade.regrade_attempt_failed(run_id=run_id, attempt_id=attempt_id, message=str(error) or repr(error))
            return
        _retry_or_fail(self, run_id, attempt_id, error)


def _retry_or_fail(task: Task, run_id: int, attempt_id: int, error: Exception) -> None:
    if task.request.retries >= MAX_RETRIES:
        regrade.regrade_attempt_failed(run_id=run_id, attempt_id=attempt_id, message=str(error) or repr(error))
        return
    logger.info("regrade run %s attempt %s: retrying after %r", run_id, attempt_id, error)
    raise task.retry(exc=error, countdown=min(2**task.request.retries * 5, 120))
