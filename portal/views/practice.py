"""Practice: home, the question bank, a question with live grading, attempts, error reports.

Permissions are those of the API: a user reads their own attempts (content staff read
every attempt), anything else is 404; a reference answer is shown to a trainee only once
they have attempted the question (content staff always see it).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import can_see_reference_always
from attempts.models import Attempt, Grade, RegradeRun
from attempts.progress import progress_for_user
from attempts.reviews import reviews_due_for_user
from attempts.selectors import attempt_current_grade, attempt_get_for_user, attempted_question_ids
from interview_platform.errors import ServiceError
from portal.forms import AnswerForm, BankFilterForm, ErratumForm
from portal.views.common import is_htmx, paginate, service_error_messages, vary_on_htmx
from questions.models import Erratum, Question, ReferenceAnswerVersion
from questions.selectors import question_get, question_list, question_published_version, topic_list

# How often the status panel asks the server while an attempt is queued or grading.
STATUS_POLL_SECONDS = 1


def end_of_today() -> datetime:
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(tomorrow, time.min)) - timedelta(microseconds=1)


# --- Home ---------------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    progress = progress_for_user(user=request.user)
    due = list(reviews_due_for_user(user=request.user, now=end_of_today())[:6])
    return render(
        request,
        "portal/home.html",
        {
            "progress": progress,
            "due_reviews": due[:5],
            "more_due": len(due) > 5,
            "nav": "home",
        },
    )


# --- Question bank ------------------------------------------------------------------


@login_required
@require_GET
def bank(request: HttpRequest) -> HttpResponse:
    form = BankFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    questions = question_list(
        topic=filters.get("topic"),
        search=(filters.get("search") or "").strip() or None,
        tag=filters["tag"].slug if filters.get("tag") else None,
        difficulty=filters.get("difficulty") or None,
    )
    mine = Attempt.objects.filter(user=request.user, mode=Attempt.Mode.PRACTICE).values("question_id")
    if filters.get("attempted") == "yes":
        questions = questions.filter(pk__in=mine)
    elif filters.get("attempted") == "no":
        questions = questions.exclude(pk__in=mine)
    page = paginate(request, questions)
    ids = [question.pk for question in page.object_list]
    attempted = attempted_question_ids(user=request.user, question_ids=ids)
    latest_scores: dict[int, int] = {}
    for question_id, score in (
        Grade.objects.filter(is_current=True, attempt__user=request.user, attempt__question_id__in=ids)
        .order_by("created_at", "id")
        .values_list("attempt__question_id", "score")
    ):
        latest_scores[question_id] = score  # ordered oldest first: the last write wins
    rows = [
        {"question": question, "attempted": question.pk in attempted, "score": latest_scores.get(question.pk)}
        for question in page.object_list
    ]
    context = {"form": form, "page": page, "rows": rows, "nav": "bank", "search": filters.get("search")}
    if is_htmx(request):
        return vary_on_htmx(render(request, "portal/partials/bank_results.html", context))
    context["topics"] = topic_list().annotate(
        active_questions=Count("questions", filter=Q(questions__status=Question.Status.ACTIVE))
    )
    context["current_topic"] = filters.get("topic")
    return vary_on_htmx(render(request, "portal/bank.html", context))


# --- A question ---------------------------------------------------------------------


def _question_or_404(request: HttpRequest, question_id: int) -> Question:
    staff = can_see_reference_always(request.user)
    question = question_get(question_id=question_id, include_archived=staff)
    if question is None:
        raise Http404(_("No such question."))
    return question


def _question_context(request: HttpRequest, question: Question) -> dict[str, object]:
    own_attempts = list(
        Attempt.objects.filter(user=request.user, question=question, mode=Attempt.Mode.PRACTICE)
        .select_related("reference_version")
        .prefetch_related(Prefetch("grades", queryset=Grade.objects.filter(is_current=True), to_attr="_current_grades"))
        .order_by("-created_at", "-id")[:10]
    )
    can_see_reference = bool(own_attempts) or can_see_reference_always(request.user)
    return {
        "question": question,
        "published": question_published_version(question),
        "can_see_reference": can_see_reference,
        "own_attempts": [(attempt, attempt_current_grade(attempt)) for attempt in own_attempts],
        "reports": _own_reports(request, question),
        "nav": "bank",
    }


def _own_reports(request: HttpRequest, question: Question) -> QuerySet[Erratum]:
    return Erratum.objects.filter(question=question, reporter=request.user).select_related("version", "fixed_in")


@login_required
@require_GET
def question_detail(request: HttpRequest, question_id: int) -> HttpResponse:
    question = _question_or_404(request, question_id)
    context = _question_context(request, question)
    context.update({"form": AnswerForm(), "erratum_form": ErratumForm()})
    own = context["own_attempts"]
    if own and not own[0][0].is_finished:
        # Came back while the latest answer is still being graded: show its live panel.
        live = attempt_get_for_user(user=request.user, attempt_id=own[0][0].pk)
        if live is not None:
            context.update(_attempt_context(request, live))
            context["live_attempt"] = True
    return render(request, "portal/question.html", context)


@login_required
@require_POST
def question_answer(request: HttpRequest, question_id: int) -> HttpResponse:
    """Submit an answer. htmx gets the live status panel; a plain form post is redirected."""
    question = _question_or_404(request, question_id)
    form = AnswerForm(request.POST)
    if form.is_valid():
        from attempts import services as attempt_services

        try:
            attempt = attempt_services.attempt_submit(
                question_id=question.pk,
                answer=form.cleaned_data["answer"],
                user=request.user,
                time_spent_s=form.cleaned_data.get("time_spent_s"),
                request_id=request.headers.get("X-Request-ID", "")[:64],
            )
        except ServiceError as error:
            for message in service_error_messages(error):
                form.add_error(None, message)
        else:
            if is_htmx(request):
                response = _status_response(request, attempt_get_for_user(user=request.user, attempt_id=attempt.pk))
                response["HX-Push-Url"] = "false"
                return response
            return redirect("portal:attempt", attempt_id=attempt.pk)
    if is_htmx(request):
        response = render(request, "portal/partials/answer_form.html", {"question": question, "form": form}, status=400)
        response["HX-Retarget"] = "#answer-form"
        response["HX-Reswap"] = "innerHTML"
        return response
    context = _question_context(request, question)
    context.update({"form": form, "erratum_form": ErratumForm()})
    return render(request, "portal/question.html", context, status=400)


@login_required
@require_POST
def question_report(request: HttpRequest, question_id: int) -> HttpResponse:
    """Report an error in the question's published reference answer."""
    question = _question_or_404(request, question_id)
    form = ErratumForm(request.POST)
    status = 200
    if form.is_valid():
        from questions import services as question_services

        try:
            question_services.erratum_report(
                question=question,
                reporter=request.user,
                quote=form.cleaned_data["quote"],
                explanation=form.cleaned_data["explanation"],
                severity=form.cleaned_data["severity"],
            )
        except ServiceError as error:
            for message in service_error_messages(error):
                form.add_error(None, message)
            status = 400
        else:
            if not is_htmx(request):
                messages.success(request, _("Thank you: your report was sent to the experts."))
                return redirect("portal:question", question_id=question.pk)
            form = ErratumForm()
            form.sent = True  # type: ignore[attr-defined]
    else:
        status = 400
    context = {"question": question, "erratum_form": form, "reports": _own_reports(request, question)}
    if is_htmx(request):
        return render(request, "portal/partials/reports.html", context, status=status)
    full = _question_context(request, question)
    full.update({"form": AnswerForm(), "erratum_form": form})
    return render(request, "portal/question.html", full, status=status)


# --- Attempts -----------------------------------------------------------------------


def visible_grade_history(attempt: Attempt) -> QuerySet[Grade]:
    """Grades that are or were current, oldest first (dry-run regrades not yet applied are hidden)."""
    return (
        Grade.objects.filter(attempt=attempt)
        .filter(Q(regrade_run__isnull=True) | Q(regrade_run__status=RegradeRun.Status.APPLIED) | Q(is_current=True))
        .select_related("reference_version", "created_by")
        .order_by("created_at", "id")
    )


def _attempt_or_404(request: HttpRequest, attempt_id: int) -> Attempt:
    attempt = attempt_get_for_user(user=request.user, attempt_id=attempt_id)
    if attempt is None or attempt.mode != Attempt.Mode.PRACTICE:
        raise Http404(_("No such attempt."))
    return attempt


def _attempt_context(request: HttpRequest, attempt: Attempt) -> dict[str, object]:
    grade = attempt_current_grade(attempt)
    history = list(visible_grade_history(attempt)) if grade else []
    published = (
        ReferenceAnswerVersion.objects.filter(question_id=attempt.question_id, status="published")
        .only("id", "number")
        .first()
        if grade
        else None
    )
    return {
        "attempt": attempt,
        "grade": grade,
        "grade_history": history,
        "previous_grade": history[-2] if len(history) > 1 else None,
        "reference": grade.reference_version if grade else attempt.reference_version,
        "newer_version": published if published and grade and published.pk != grade.reference_version_id else None,
        "poll_seconds": STATUS_POLL_SECONDS,
        "is_owner": attempt.user_id == request.user.pk,
    }


def _status_response(request: HttpRequest, attempt: Attempt | None) -> HttpResponse:
    if attempt is None:
        raise Http404(_("No such attempt."))
    return render(request, "portal/partials/attempt_status.html", _attempt_context(request, attempt))


@login_required
@require_GET
def attempt_detail(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = _attempt_or_404(request, attempt_id)
    context = _attempt_context(request, attempt)
    context["nav"] = "history"
    return render(request, "portal/attempt.html", context)


@login_required
@require_GET
def attempt_status(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The status panel; while queued or grading it asks again every second (htmx polling)."""
    return _status_response(request, _attempt_or_404(request, attempt_id))


@login_required
@require_POST
def attempt_retry(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Send a failed attempt to grading again (its owner or an expert)."""
    attempt = _attempt_or_404(request, attempt_id)
    from attempts import services as attempt_services

    try:
        attempt_services.attempt_retry(attempt=attempt, actor=request.user)
    except ServiceError as error:
        if is_htmx(request):
            context = _attempt_context(request, attempt)
            context["retry_error"] = error.message
            return render(request, "portal/partials/attempt_status.html", context, status=error.status_code)
        messages.error(request, error.message)
        return redirect("portal:attempt", attempt_id=attempt.pk)
    if is_htmx(request):
        return _status_response(request, attempt_get_for_user(user=request.user, attempt_id=attempt.pk))
    return redirect("portal:attempt", attempt_id=attempt.pk)
