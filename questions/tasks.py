"""Celery tasks of the question bank: regrading after a correction (thin shells over ``questions.regrade``)."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from attempts.graders import GraderError
from interview_platform.errors import ServiceError
from questions import regrade

logger = logging.getLogger(__name__)


@shared_task(
    name="questions.tasks.regrade_attempt",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # the limit is GRADING_MAX_RETRIES, checked below
)
def regrade_attempt(self: Task, run_id: int, attempt_id: int) -> str:
    """Grade one attempt of a regrade run against its target version (a non-current grade).

    Routed to the ``grading`` queue. Idempotent: a redelivery finds the grade already
    written and only recounts progress. A ``GraderError`` marked permanent, or a refusal
    of the service, is recorded as this attempt's failure at once; transient grader errors
    and time-outs are retried with the grading pipeline's backoff, then recorded.
    """
    try:
        grade = regrade.regrade_attempt_execute(run_id=run_id, attempt_id=attempt_id)
    except ServiceError as error:
        regrade.regrade_attempt_failed(run_id=run_id, attempt_id=attempt_id, message=error.message)
        return "failed"
    except GraderError as error:
        if error.permanent:
            regrade.regrade_attempt_failed(run_id=run_id, attempt_id=attempt_id, message=str(error))
            return "failed"
        return _retry_or_fail(self, run_id, attempt_id, error)
    except SoftTimeLimitExceeded as error:
        return _retry_or_fail(self, run_id, attempt_id, error)
    return "graded" if grade is not None else "skipped"


def _retry_or_fail(task: Task, run_id: int, attempt_id: int, error: Exception) -> str:
    if task.request.retries >= settings.GRADING_MAX_RETRIES:
        regrade.regrade_attempt_failed(run_id=run_id, attempt_id=attempt_id, message=str(error) or repr(error))
        return "failed"
    from attempts.tasks import retry_countdown

    logger.info("regrade run %s attempt %s: retrying after %r", run_id, attempt_id, error)
    raise task.retry(exc=error, countdown=retry_countdown(task.request.retries))
