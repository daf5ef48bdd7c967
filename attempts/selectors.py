"""Reads of attempts. Lists make a constant number of queries whatever the page holds.

Visibility: a user reads their own attempts; content staff (experts, reviewers, admins)
read every attempt. Anything else is "not found", so an id tells an outsider nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet

from accounts.roles import is_staff_reader
from attempts.models import Attempt, Grade


def current_grade_prefetch() -> Prefetch:
    return Prefetch(
        "grades",
        queryset=Grade.objects.filter(is_current=True).select_related("reference_version", "created_by"),
        to_attr="_current_grades",
    )


def attempt_queryset() -> QuerySet[Attempt]:
    return Attempt.objects.select_related(
        "question", "question__topic", "reference_version", "user", "invitation"
    ).prefetch_related(current_grade_prefetch())


def attempt_current_grade(attempt: Attempt) -> Grade | None:
    """The current grade; uses the prefetched list when the selector loaded one."""
    prefetched = getattr(attempt, "_current_grades", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return attempt.grades.filter(is_current=True).select_related("reference_version").first()


def attempt_list_for_user(
    *,
    user: AbstractBaseUser | AnonymousUser,
    question_id: int | None = None,
    status: str | None = None,
    mode: str | None = None,
    owner_id: int | None = None,
) -> QuerySet[Attempt]:
    """Attempts ``user`` may read, newest first. ``owner_id`` filters by user (staff only)."""
    if not user.is_authenticated:
        return Attempt.objects.none()
    queryset = attempt_queryset()
    if is_staff_reader(user):
        if owner_id is not None:
            queryset = queryset.filter(user_id=owner_id)
    else:
        queryset = queryset.filter(user=user)
    if question_id is not None:
        queryset = queryset.filter(question_id=question_id)
    if status:
        queryset = queryset.filter(status=status)
    if mode:
        queryset = queryset.filter(mode=mode)
    return queryset.order_by("-created_at", "-id")


def attempt_get_for_user(*, user: AbstractBaseUser | AnonymousUser, attempt_id: int) -> Attempt | None:
    """The attempt if ``user`` may read it, else None (the API answers 404 either way)."""
    return attempt_list_for_user(user=user).filter(pk=attempt_id).first()


def user_has_attempted(*, user: AbstractBaseUser | AnonymousUser, question_id: int) -> bool:
    if not user.is_authenticated:
        return False
    return Attempt.objects.filter(user=user, question_id=question_id).exists()


def attempted_question_ids(*, user: AbstractBaseUser | AnonymousUser, question_ids: Iterable[int]) -> set[int]:
    """Which of ``question_ids`` the user has submitted an attempt on (one query)."""
    if not user.is_authenticated:
        return set()
    return set(
        Attempt.objects.filter(user=user, question_id__in=list(question_ids))
        .values_list("question_id", flat=True)
        .distinct()
    )
