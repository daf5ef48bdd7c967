"""Experts send one attempt to grading again (``POST /api/v1/attempts/{id}/regrade/``).

A failed attempt goes through ``attempt_retry``. A graded one goes back to ``queued`` and
through the normal pipeline (claim, grade against the version it was submitted against,
new current grade; the previous grade stays as history), so the client sees the same
queued → grading → graded progress as for a new answer. Regrading against a newer
reference version is the curation area's regrade run (``questions.regrade``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext as _

from accounts.roles import is_expert
from attempts.models import Attempt
from attempts.services import attempt_retry, attempt_send_again
from interview_platform.errors import ServiceError

logger = logging.getLogger(__name__)


def attempt_regrade(*, attempt: Attempt, actor: Any) -> Attempt:
    """Grade a failed or graded attempt again. Experts only; 409 while it is being graded."""
    if actor is None or not is_expert(actor):
        raise ServiceError(_("Only experts may regrade an attempt."), code="permission_denied", status_code=403)
    if attempt.status == Attempt.Status.FAILED:
        return attempt_retry(attempt=attempt, actor=actor)
    attempt = attempt_send_again(
        attempt=attempt,
        from_status=Attempt.Status.GRADED,
        refusal=_("Only a graded or failed attempt can be regraded (this one is %(status)s)."),
    )
    logger.info("attempt %s sent to grading again by expert %s", attempt.pk, actor.pk)
    return attempt
