"""History of one's attempts, the spaced-review queue and forecast, and the team grid."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.roles import is_team_lead
from attempts.models import Attempt, Grade, RegradeRun
from attempts.progress import team_progress
from attempts.reviews import review_forecast, reviews_due_for_user
from attempts.selectors import attempt_current_grade, attempt_list_for_user
from portal.forms import HistoryFilterForm
from portal.views.common import is_htmx, paginate, vary_on_htmx
from portal.views.practice import end_of_today

REVIEW_FORECAST_DAYS = 14


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """One's own practice attempts, newest first, with every grade they had (old → new)."""
    form = HistoryFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    attempts = (
        attempt_list_for_user(user=request.user, status=filters.get("status") or None, mode=Attempt.Mode.PRACTICE)
        .filter(user=request.user)
        .prefetch_related(
            Prefetch(
                "grades",
                queryset=Grade.objects.filter(
                    Q(regrade_run__isnull=True) | Q(regrade_run__status=RegradeRun.Status.APPLIED) | Q(is_current=True)
                )
                .select_related("reference_version")
                .order_by("created_at", "id"),
                to_attr="_grade_history",
            )
        )
    )
    if filters.get("topic"):
        attempts = attempts.filter(question__topic=filters["topic"])
    if filters.get("date_from"):
        attempts = attempts.filter(created_at__gte=_day_start(filters["date_from"]))
    if filters.get("date_to"):
        attempts = attempts.filter(created_at__lt=_day_start(filters["date_to"] + timedelta(days=1)))
    page = paginate(request, attempts)
    rows = []
    for attempt in page.object_list:
        grades = attempt._grade_history
        rows.append(
            {
                "attempt": attempt,
                "grade": attempt_current_grade(attempt),
                "previous": grades[-2] if len(grades) > 1 else None,
            }
        )
    template = "portal/partials/history_results.html" if is_htmx(request) else "portal/history.html"
    return vary_on_htmx(render(request, template, {"form": form, "page": page, "rows": rows, "nav": "history"}))


@login_required
@require_GET
def reviews(request: HttpRequest) -> HttpResponse:
    """What is due for review today (most overdue first) and the next two weeks' forecast."""
    due = list(reviews_due_for_user(user=request.user, now=end_of_today())[:100])
    forecast = review_forecast(user=request.user, days=REVIEW_FORECAST_DAYS)
    return render(
        request,
        "portal/reviews.html",
        {
            "due": due,
            "forecast": forecast,
            "forecast_total": sum(count for _day, count in forecast),
            "now": timezone.now(),
            "nav": "reviews",
        },
    )


@login_required
@require_GET
def team(request: HttpRequest, team_id: int | None = None) -> HttpResponse:
    """Members × topics for the teams the user leads. Not a lead: 403; not their team: 404."""
    if not is_team_lead(request.user):
        raise PermissionDenied(_("Only team leads see team progress."))
    teams = team_progress(lead=request.user, team_id=team_id)
    if team_id is not None and not teams:
        raise Http404(_("No such team."))
    return render(request, "portal/team.html", {"teams": teams, "nav": "team"})
