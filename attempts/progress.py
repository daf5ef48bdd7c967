"""Progress reads: a trainee's progress per topic, recent grades and streak; a team's grid.

Only practice attempts count (assessment attempts belong to candidates). A topic's
``mean_score`` is the mean of the current grades of the user's graded attempts in it;
``attempted`` counts distinct questions answered at least once. Every function makes a
constant number of queries whatever the number of topics, attempts or team members.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Avg, Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Team, TeamMembership
from accounts.roles import Role, user_has_role
from attempts.models import Attempt, Grade
from questions.models import Question, Topic

RECENT_GRADES = 5
# How far back the streak looks; a longer streak is reported as this many days.
STREAK_HORIZON_DAYS = 366


@dataclass(frozen=True)
class TopicProgress:
    topic_id: int
    slug: str
    name: str
    name_en: str
    attempted: int  # distinct questions attempted
    total: int  # active questions in the topic
    attempts: int  # practice attempts submitted
    mean_score: float | None  # mean current score of graded attempts, None when none graded
    last_activity: datetime | None

    @property
    def percent_attempted(self) -> int:
        return round(100 * self.attempted / self.total) if self.total else 0


@dataclass(frozen=True)
class RecentGrade:
    attempt_id: int
    question_id: int
    question_title: str
    topic_name: str
    score: int
    grader: str
    reference_version: int
    graded_at: datetime


@dataclass(frozen=True)
class UserProgress:
    topics: list[TopicProgress]
    recent_grades: list[RecentGrade]
    streak_days: int  # consecutive days with a practice attempt, ending today (or yesterday)
    active_today: bool
    attempts_total: int
    graded_total: int
    mean_score: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes stay datetimes; DRF and Django's JSON encoder render them)."""
        data = asdict(self)
        for topic, row in zip(self.topics, data["topics"], strict=True):
            row["percent_attempted"] = topic.percent_attempted
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def streak_days(*, days: set[date], today: date) -> tuple[int, bool]:
    """Consecutive active days ending today, or ending yesterday when today has none yet."""
    active_today = today in days
    cursor = today if active_today else today - timedelta(days=1)
    streak = 0
    while cursor in days and streak < STREAK_HORIZON_DAYS:
        streak += 1
        cursor -= timedelta(days=1)
    return streak, active_today


def _practice_attempts(user_ids: list[int]) -> Any:
    return Attempt.objects.filter(user_id__in=user_ids, mode=Attempt.Mode.PRACTICE)


def progress_for_user(*, user: AbstractBaseUser, now: datetime | None = None) -> UserProgress:
    """Per-topic progress (every topic, also untouched ones), recent grades and the streak. Six queries."""
    now = now or timezone.now()
    topics = list(
        Topic.objects.annotate(
            active_questions=Count("questions", filter=Q(questions__status=Question.Status.ACTIVE))
        ).order_by("order", "id")
    )
    attempt_rows = {
        row["question__topic_id"]: row
        for row in _practice_attempts([user.pk])
        .values("question__topic_id")
        .annotate(
            attempted=Count("question_id", distinct=True),
            attempts=Count("id"),
            last_activity=Max("created_at"),
        )
    }
    score_rows = {
        row["attempt__question__topic_id"]: row["mean"]
        for row in Grade.objects.filter(
            is_current=True,
            attempt__user_id=user.pk,
            attempt__mode=Attempt.Mode.PRACTICE,
            attempt__status=Attempt.Status.GRADED,
        )
        .values("attempt__question__topic_id")
        .annotate(mean=Avg("score"))
    }
    rows = []
    for topic in topics:
        attempt_row = attempt_rows.get(topic.pk, {})
        rows.append(
            TopicProgress(
                topic_id=topic.pk,
                slug=topic.slug,
                name=topic.name,
                name_en=topic.name_en,
                attempted=attempt_row.get("attempted", 0),
                total=topic.active_questions,
                attempts=attempt_row.get("attempts", 0),
                mean_score=_round(score_rows.get(topic.pk)),
                last_activity=attempt_row.get("last_activity"),
            )
        )
    recent = [
        RecentGrade(
            attempt_id=grade.attempt_id,
            question_id=grade.attempt.question_id,
            question_title=grade.attempt.question.title,
            topic_name=grade.attempt.question.topic.name,
            score=grade.score,
            grader=grade.grader,
            reference_version=grade.reference_version.number,
            graded_at=grade.created_at,
        )
        for grade in Grade.objects.filter(
            is_current=True, attempt__user_id=user.pk, attempt__mode=Attempt.Mode.PRACTICE
        )
        .select_related("attempt__question__topic", "reference_version")
        .order_by("-created_at", "-id")[:RECENT_GRADES]
    ]
    today = timezone.localdate(now)
    since = now - timedelta(days=STREAK_HORIZON_DAYS + 1)
    days = set(
        _practice_attempts([user.pk])
        .filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day", flat=True)
        .distinct()
    )
    streak, active_today = streak_days(days=days, today=today)
    overall = Grade.objects.filter(
        is_current=True,
        attempt__user_id=user.pk,
        attempt__mode=Attempt.Mode.PRACTICE,
        attempt__status=Attempt.Status.GRADED,
    ).aggregate(count=Count("id"), mean=Avg("score"))
    return UserProgress(
        topics=rows,
        recent_grades=recent,
        streak_days=streak,
        active_today=active_today,
        attempts_total=sum(row.attempts for row in rows),
        graded_total=overall["count"],
        mean_score=_round(overall["mean"]),
    )


# --- Team ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamCell:
    attempts: int = 0
    attempted: int = 0
    mean_score: float | None = None
    last_activity: datetime | None = None


@dataclass
class TeamMemberRow:
    user_id: int
    username: str
    display_name: str
    is_lead: bool
    cells: list[TeamCell] = field(default_factory=list)  # in the order of ``TeamProgress.topics``
    attempts: int = 0
    mean_score: float | None = None
    last_activity: datetime | None = None


@dataclass
class TeamProgress:
    team_id: int
    team_name: str
    topics: list[Topic]
    members: list[TeamMemberRow]


def teams_led_by(*, lead: AbstractBaseUser) -> list[Team]:
    """The teams ``lead`` may see: those they lead (admins see every team)."""
    if user_has_role(lead, Role.ADMIN) and not user_has_role(lead, Role.TEAM_LEAD):
        return list(Team.objects.order_by("name"))
    if not user_has_role(lead, Role.TEAM_LEAD):
        return []
    return list(Team.objects.filter(memberships__user=lead, memberships__is_lead=True).order_by("name").distinct())


def team_progress(*, lead: AbstractBaseUser, team_id: int | None = None) -> list[TeamProgress]:
    """Members × topics (attempts, mean score, last activity) for each team ``lead`` leads.

    ``team_id`` narrows to one team; a team the lead does not lead yields an empty list,
    so callers answer 404. Five queries whatever the team size.
    """
    teams = teams_led_by(lead=lead)
    if team_id is not None:
        teams = [team for team in teams if team.pk == team_id]
    if not teams:
        return []
    topics = list(Topic.objects.order_by("order", "id"))
    memberships = list(
        TeamMembership.objects.filter(team__in=teams)
        .select_related("user")
        .order_by("team_id", "-is_lead", "user__username")
    )
    user_ids = sorted({membership.user_id for membership in memberships})
    attempt_cells = {
        (row["user_id"], row["question__topic_id"]): row
        for row in _practice_attempts(user_ids)
        .values("user_id", "question__topic_id")
        .annotate(attempts=Count("id"), attempted=Count("question_id", distinct=True), last=Max("created_at"))
    }
    score_cells = {
        (row["attempt__user_id"], row["attempt__question__topic_id"]): (row["mean"], row["graded"])
        for row in Grade.objects.filter(
            is_current=True,
            attempt__user_id__in=user_ids,
            attempt__mode=Attempt.Mode.PRACTICE,
            attempt__status=Attempt.Status.GRADED,
        )
        .values("attempt__user_id", "attempt__question__topic_id")
        .annotate(mean=Avg("score"), graded=Count("id"))
    }
    result = []
    for team in teams:
        members = []
        for membership in memberships:
            if membership.team_id != team.pk:
                continue
            member = membership.user
            row = TeamMemberRow(
                user_id=member.pk,
                username=member.get_username(),
                display_name=member.get_full_name() or member.get_username(),
                is_lead=membership.is_lead,
            )
            score_sum = 0.0
            graded = 0
            for topic in topics:
                attempt_row = attempt_cells.get((member.pk, topic.pk), {})
                mean, count = score_cells.get((member.pk, topic.pk), (None, 0))
                cell = TeamCell(
                    attempts=attempt_row.get("attempts", 0),
                    attempted=attempt_row.get("attempted", 0),
                    mean_score=_round(mean),
                    last_activity=attempt_row.get("last"),
                )
                row.cells.append(cell)
                row.attempts += cell.attempts
                if mean is not None:
                    score_sum += float(mean) * count
                    graded += count
                if cell.last_activity and (row.last_activity is None or cell.last_activity > row.last_activity):
                    row.last_activity = cell.last_activity
            row.mean_score = _round(score_sum / graded) if graded else None
            members.append(row)
        result.append(TeamProgress(team_id=team.pk, team_name=team.name, topics=topics, members=members))
    return result
