"""Writes for accounts: API tokens (issued once, stored hashed) and demo users."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Team, TeamMembership
from accounts.roles import Role, role_groups_ensure

TOKEN_PREFIX_LENGTH = 8


def token_hash(raw: str) -> str:
    """SHA-256 of a token. Tokens carry 256 bits of randomness, so no salt is needed."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw_key: str


def api_token_create(*, user: AbstractBaseUser, name: str = "", ttl: timedelta | None = None) -> IssuedToken:
    raw = secrets.token_urlsafe(32)
    expires_at = timezone.now() + (ttl or timedelta(hours=settings.API_TOKEN_TTL_HOURS))
    token = ApiToken.objects.create(
        user=user, key_hash=token_hash(raw), prefix=raw[:TOKEN_PREFIX_LENGTH], name=name, expires_at=expires_at
    )
    return IssuedToken(token=token, raw_key=raw)


def api_token_authenticate(*, raw_key: str) -> ApiToken | None:
    """The valid token for ``raw_key`` with its user loaded, or None."""
    token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(raw_key)).first()
    if token is None or not token.is_valid or not token.user.is_active:
        return None
    now = timezone.now()
    # Record use at most once a minute per token, to keep reads cheap.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - development-only demo accounts
DEMO_USERS: tuple[tuple[str, str, bool], ...] = (
    # username, role, is_staff (admin site access)
    ("trainee", Role.TRAINEE, False),
    ("lead", Role.TEAM_LEAD, False),
    ("expert", Role.EXPERT, True),
    ("reviewer", Role.REVIEWER, True),
    ("hr", Role.HR, False),
    ("admin", Role.ADMIN, True),
)


@transaction.atomic
def demo_accounts_ensure() -> list[tuple[str, str, str]]:
    """Create one account per role (development only) and a demo team; idempotent.

    Returns (username, password, role) for printing.
    """
    groups = role_groups_ensure()
    user_model = get_user_model()
    created = []
    for username, role, is_staff in DEMO_USERS:
        user, made = user_model.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
        if made:
            user.set_password(DEMO_PASSWORD)
            user.is_superuser = role == Role.ADMIN
            user.save()
        user.groups.add(groups[role])
        if role != Role.TRAINEE:
            user.groups.add(groups[Role.TRAINEE])
        created.append((username, DEMO_PASSWORD, role))
    team, _ = Team.objects.get_or_create(name="演示团队 Demo team")
    for username, is_lead in (("lead", True), ("trainee", False), ("expert", False)):
        TeamMembership.objects.get_or_create(
            team=team, user=user_model.objects.get(username=username), defaults={"is_lead": is_lead}
        )
    return created
