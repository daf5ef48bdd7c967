"""The candidate's test page ``/take/<token>/``: no account, a server-enforced clock.

The token in the link is the credential (the services look up its hash). Pages:
pending → an introduction and a start button; started → the questions, drafts saved as
the candidate types (debounced htmx posts) and a countdown kept in step with the server;
time up → submit what was saved; submitted/completed → a confirmation, and the results
only when the assessment allows candidates to see them. Reference answers are never shown.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from attempts.assessments import (
    assessment_items,
    invitation_get_by_token,
    invitation_queryset,
    invitation_results,
    invitation_save_answer,
    invitation_start,
    invitation_submit,
    invitation_time_left,
)
from attempts.models import Invitation
from interview_platform.errors import ServiceError
from portal.views.common import is_htmx, service_error_messages, vary_on_htmx

# While results are being graded the page asks again this often (seconds).
RESULTS_POLL_SECONDS = 2
# The countdown re-syncs with the server this often (seconds).
CLOCK_SYNC_SECONDS = 30


def _error_page(request: HttpRequest, error: ServiceError) -> HttpResponse:
    status = error.status_code if error.code == "not_found" else 410 if error.code in ("expired", "revoked") else 400
    return render(request, "take/error.html", {"message": error.message, "code": error.code}, status=status)


def _results_context(invitation: Invitation) -> dict[str, object]:
    if not invitation.assessment.show_results_to_candidate:
        return {"show_results": False}
    loaded = invitation_queryset().get(pk=invitation.pk)
    return {"show_results": True, "results": invitation_results(invitation=loaded)}


@never_cache
@require_GET
def take(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_get_by_token(token=token)
    except ServiceError as error:
        return _error_page(request, error)
    assessment = invitation.assessment
    context: dict[str, object] = {"invitation": invitation, "assessment": assessment, "token": token}
    if invitation.status == Invitation.Status.PENDING:
        context["question_count"] = len(assessment_items(assessment=assessment))
        return render(request, "take/start.html", context)
    if invitation.status in (Invitation.Status.SUBMITTED, Invitation.Status.COMPLETED):
        context.update(_results_context(invitation))
        context["poll_seconds"] = RESULTS_POLL_SECONDS
        template = "take/partials/results.html" if is_htmx(request) else "take/done.html"
        return vary_on_htmx(render(request, template, context))
    seconds_left = invitation_time_left(invitation=invitation) or 0
    drafts = invitation.draft_answers or {}
    context.update(
        {
            "items": [
                {"item": item, "draft": drafts.get(str(item.question_id), "")}
                for item in assessment_items(assessment=assessment)
            ],
            "seconds_left": seconds_left,
            "deadline": invitation.deadline,
            "clock_sync_seconds": CLOCK_SYNC_SECONDS,
            "answered": sum(1 for value in drafts.values() if value.strip()),
        }
    )
    return render(request, "take/test.html" if seconds_left > 0 else "take/time_up.html", context)


@never_cache
@require_POST
def take_start(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation_start(invitation=invitation_get_by_token(token=token))
    except ServiceError as error:
        return _error_page(request, error)
    return redirect("portal:take", token=token)


def _answers_in(request: HttpRequest) -> dict[int, str]:
    """The ``answer_<question id>`` fields of a post."""
    answers = {}
    for name, value in request.POST.items():
        prefix, _sep, number = name.partition("_")
        if prefix == "answer" and number.isdigit():
            answers[int(number)] = value
    return answers


@never_cache
@require_POST
def take_save(request: HttpRequest, token: str) -> HttpResponse:
    """Save one draft answer (htmx, debounced while typing). Answers with a small status line."""
    question = request.POST.get("question", "")
    answers = _answers_in(request)
    if not question.isdigit() or int(question) not in answers:
        return render(
            request, "take/partials/saved.html", {"error": _("Name the question and its answer.")}, status=400
        )
    try:
        invitation = invitation_get_by_token(token=token)
        invitation_save_answer(invitation=invitation, question_id=int(question), answer=answers[int(question)])
    except ServiceError as error:
        status = 404 if error.code == "not_found" else 409 if error.code in ("time_up", "already_submitted") else 400
        return render(
            request,
            "take/partials/saved.html",
            {"error": " ".join(service_error_messages(error)), "code": error.code},
            status=status,
        )
    return render(request, "take/partials/saved.html", {"saved_at": timezone.localtime()})


@never_cache
@require_GET
def take_clock(request: HttpRequest, token: str) -> HttpResponse:
    """The countdown as the server sees it (the page re-syncs its local timer from this)."""
    try:
        invitation = invitation_get_by_token(token=token)
    except ServiceError as error:
        return _error_page(request, error)
    seconds_left = invitation_time_left(invitation=invitation) or 0
    return render(
        request,
        "take/partials/clock.html",
        {"token": token, "seconds_left": seconds_left, "clock_sync_seconds": CLOCK_SYNC_SECONDS},
    )


@never_cache
@require_POST
def take_submit(request: HttpRequest, token: str) -> HttpResponse:
    """The one final submit: the answers on the page are saved (while time remains), then graded."""
    try:
        invitation = invitation_get_by_token(token=token)
        if invitation.status == Invitation.Status.STARTED:
            drafts = invitation.draft_answers or {}
            for question_id, answer in _answers_in(request).items():
                if drafts.get(str(question_id), "") == answer:
                    continue
                try:
                    invitation_save_answer(invitation=invitation, question_id=question_id, answer=answer)
                except ServiceError as error:
                    if error.code != "time_up":
                        raise
                    break  # past the deadline: what was saved in time is submitted
        invitation_submit(invitation=invitation, request_id=request.headers.get("X-Request-ID", "")[:64])
    except ServiceError as error:
        if error.code == "already_submitted":
            return redirect("portal:take", token=token)
        return _error_page(request, error)
    return redirect("portal:take", token=token)
