"""Spaced review with FSRS: each graded practice attempt schedules its question again.

The grade maps to an FSRS rating (below 40 → Again, below 60 → Hard, below 85 → Good,
otherwise Easy). The card's full FSRS state is kept as JSON; ``due`` is a column so the
"due today" queue and the forecast are plain indexed queries.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from fsrs import Card, Rating, Scheduler

from attempts.models import Attempt, Grade, ReviewState

# Fuzzing spreads reviews randomly; off, so a schedule is reproducible and testable.
_scheduler = Scheduler(enable_fuzzing=False)


def rating_for_score(score: int) -> Rating:
    if score < 40:
        return Rating.Again
    if score < 60:
        return Rating.Hard
    if score < 85:
        return Rating.Good
    return Rating.Easy


@transaction.atomic
def review_record_grade(*, attempt: Attempt, grade: Grade, reviewed_at: datetime | None = None) -> ReviewState | None:
    """Schedule the attempt's question for its user after a current grade. Practice only."""
    if attempt.user_id is None or attempt.mode != Attempt.Mode.PRACTICE:
        return None
    reviewed_at = reviewed_at or grade.created_at or timezone.now()
    state = (
        ReviewState.objects.select_for_update().filter(user_id=attempt.user_id, question_id=attempt.question_id).first()
    )
    card = Card.from_dict(state.card) if state and state.card else Card()
    rating = rating_for_score(grade.score)
    card, _log = _scheduler.review_card(card, rating, review_datetime=reviewed_at)
    fields = {
        "card": card.to_dict(),
        "due": card.due,
        "stability": card.stability,
        "difficulty": card.difficulty,
        "last_rating": int(rating),
        "last_reviewed_at": reviewed_at,
        "last_attempt": attempt,
    }
    if state is None:
        return ReviewState.objects.create(
            user_id=attempt.user_id,
            question_id=attempt.question_id,
            reps=1,
            lapses=1 if rating == Rating.Again else 0,
            **fields,
        )
    for name, value in fields.items():
        setattr(state, name, value)
    state.reps += 1
    if rating == Rating.Again:
        state.lapses += 1
    state.save()
    return state


def reviews_due_for_user(*, user: AbstractBaseUser, now: datetime | None = None) -> QuerySet[ReviewState]:
    """Questions due for review now (active questions only), most overdue first."""
    now = now or timezone.now()
    return (
        ReviewState.objects.filter(user=user, due__lte=now, question__status="active")
        .select_related("question", "question__topic", "last_attempt")
        .order_by("due", "id")
    )


def review_forecast(*, user: AbstractBaseUser, days: int = 14, now: datetime | None = None) -> list[tuple[date, int]]:
    """How many reviews fall due on each of the next ``days`` days (overdue count as today)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    horizon = timezone.make_aware(datetime.combine(today + timedelta(days=days), datetime.min.time()))
    counts: Counter[date] = Counter()
    for due in ReviewState.objects.filter(user=user, due__lt=horizon, question__status="active").values_list(
        "due", flat=True
    ):
        counts[max(timezone.localdate(due), today)] += 1
    return [(today + timedelta(days=offset), counts.get(today + timedelta(days=offset), 0)) for offset in range(days)]
