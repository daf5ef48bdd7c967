"""Roles are Django groups. A user may hold several; superusers hold every capability.

The permission matrix (README, "Roles") is expressed through the predicates below, which
the API, the portal and the admin all call, so one rule answers everywhere.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group


class Role:
    TRAINEE = "trainee"
    TEAM_LEAD = "team_lead"
    EXPERT = "expert"
    REVIEWER = "reviewer"
    HR = "hr"
    ADMIN = "admin"

    ALL = (TRAINEE, TEAM_LEAD, EXPERT, REVIEWER, HR, ADMIN)
    LABELS = {
        TRAINEE: "学员 / trainee",
        TEAM_LEAD: "组长 / team lead",
        EXPERT: "专家 / expert",
        REVIEWER: "审核人 / reviewer",
        HR: "HR",
        ADMIN: "管理员 / admin",
    }


UserLike = AbstractBaseUser | AnonymousUser


def role_groups_ensure() -> dict[str, Group]:
    """Create the role groups if missing (idempotent); called by a data migration too."""
    return {name: Group.objects.get_or_create(name=name)[0] for name in Role.ALL}


def user_roles(user: UserLike) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=Role.ALL).values_list("name", flat=True))
        if user.is_superuser:
            cached.add(Role.ADMIN)
        user._role_cache = cached  # type: ignore[union-attr]
    return cached


def user_has_role(user: UserLike, *roles: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    held = user_roles(user)
    return Role.ADMIN in held or any(role in held for role in roles)


def is_expert(user: UserLike) -> bool:
    """Experts curate content; reviewers are senior experts and may do the same."""
    return user_has_role(user, Role.EXPERT, Role.REVIEWER)


def is_reviewer(user: UserLike) -> bool:
    return user_has_role(user, Role.REVIEWER)


def is_hr(user: UserLike) -> bool:
    return user_has_role(user, Role.HR)


def is_team_lead(user: UserLike) -> bool:
    return user_has_role(user, Role.TEAM_LEAD)


def is_staff_reader(user: UserLike) -> bool:
    """May read every user's attempts: experts, reviewers and admins."""
    return user_has_role(user, Role.EXPERT, Role.REVIEWER)


def can_see_reference_always(user: UserLike) -> bool:
    """Content staff see reference answers without attempting first."""
    return user_has_role(user, Role.EXPERT, Role.REVIEWER)
