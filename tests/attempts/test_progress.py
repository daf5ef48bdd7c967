"""Progress reads: per-topic numbers, recent grades, streak, the team grid and who sees it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import TeamMembership
from attempts.models import Attempt
from attempts.progress import progress_for_user, streak_days, team_progress
from tests.factories import (
    AttemptFactory,
    GradeFactory,
    PublishedQuestionFactory,
    TeamFactory,
    TeamMembershipFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db


def test_streak_counts_consecutive_days_ending_today_or_yesterday() -> None:
    today = date(2026, 3, 10)
    assert streak_days(days=set(), today=today) == (0, False)
    assert streak_days(days={today, today - timedelta(days=1), today - timedelta(days=3)}, today=today) == (2, True)
    # Nothing yet today: yesterday's run still counts.
    assert streak_days(days={today - timedelta(days=1), today - timedelta(days=2)}, today=today) == (2, False)
    assert streak_days(days={today - timedelta(days=2)}, today=today) == (0, False)


def test_progress_per_topic_recent_grades_and_streak(trainee, other_trainee, django_assert_num_queries) -> None:
    topic = TopicFactory(name="微调面")
    empty_topic = TopicFactory(name="进阶面")
    first, second, _third = (PublishedQuestionFactory(topic=topic) for _ in range(3))
    GradeFactory(attempt=AttemptFactory(user=trainee, question=first, status=Attempt.Status.GRADED), score=60)
    GradeFactory(attempt=AttemptFactory(user=trainee, question=first, status=Attempt.Status.GRADED), score=90)
    AttemptFactory(user=trainee, question=second)  # queued: attempted, not graded
    GradeFactory(attempt=AttemptFactory(user=other_trainee, question=second, status=Attempt.Status.GRADED), score=5)
    yesterday = timezone.now() - timedelta(days=1)
    Attempt.objects.filter(user=trainee, question=second).update(created_at=yesterday)

    with django_assert_num_queries(6):
        progress = progress_for_user(user=trainee)

    rows = {row.topic_id: row for row in progress.topics}
    assert rows[topic.pk].attempted == 2
    assert rows[topic.pk].total == 3
    assert rows[topic.pk].attempts == 3
    assert rows[topic.pk].mean_score == 75.0
    assert rows[topic.pk].percent_attempted == 67
    assert rows[empty_topic.pk].attempted == 0 and rows[empty_topic.pk].mean_score is None
    assert [grade.score for grade in progress.recent_grades] == [90, 60]
    assert progress.recent_grades[0].reference_version == 1
    assert progress.streak_days == 2 and progress.active_today
    assert progress.attempts_total == 3 and progress.graded_total == 2 and progress.mean_score == 75.0
    data = progress.to_dict()
    assert data["topics"][0]["percent_attempted"] in (0, 67)


def test_team_progress_shows_only_teams_the_lead_leads(team_lead, trainee, other_trainee) -> None:
    topic = TopicFactory()
    question = PublishedQuestionFactory(topic=topic)
    team = TeamFactory(name="算法组")
    TeamMembershipFactory(team=team, user=team_lead, is_lead=True)
    TeamMembershipFactory(team=team, user=trainee)
    other_team = TeamFactory(name="别的组")
    TeamMembershipFactory(team=other_team, user=other_trainee)
    GradeFactory(attempt=AttemptFactory(user=trainee, question=question, status=Attempt.Status.GRADED), score=70)

    teams = team_progress(lead=team_lead)

    assert [entry.team_name for entry in teams] == ["算法组"]
    members = {row.username: row for row in teams[0].members}
    assert set(members) == {team_lead.username, trainee.username}
    cell = members[trainee.username].cells[[t.pk for t in teams[0].topics].index(topic.pk)]
    assert (cell.attempts, cell.mean_score) == (1, 70.0)
    assert members[trainee.username].last_activity is not None
    assert team_progress(lead=team_lead, team_id=other_team.pk) == []
    assert team_progress(lead=trainee) == []
    # A member who is not the lead of that team sees nothing of it, even with the role.
    TeamMembership.objects.filter(team=team, user=team_lead).update(is_lead=False)
    assert team_progress(lead=team_lead) == []
