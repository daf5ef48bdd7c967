"""Shared fixtures: role personas and a client signed in as each."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

# Fake OpenAI-compatible server, real Celery workers, grading settings for tests.
pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def make_user(db: None) -> Callable[..., object]:
    def make(username: str | None = None, roles: tuple[str, ...] = ("trainee",), **fields: object) -> object:
        kwargs: dict[str, object] = {"roles": list(roles), **fields}
        if username:
            kwargs["username"] = username
        return UserFactory(**kwargs)

    return make


@pytest.fixture
def trainee(make_user):
    return make_user("trainee_a", roles=("trainee",))


@pytest.fixture
def other_trainee(make_user):
    return make_user("trainee_b", roles=("trainee",))


@pytest.fixture
def team_lead(make_user):
    return make_user("lead_a", roles=("trainee", "team_lead"))


@pytest.fixture
def expert(make_user):
    return make_user("expert_a", roles=("trainee", "expert"), is_staff=True)


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer_a", roles=("trainee", "reviewer"), is_staff=True)


@pytest.fixture
def hr_user(make_user):
    return make_user("hr_a", roles=("hr",))


@pytest.fixture
def admin_user(make_user):
    return make_user("admin_a", roles=("admin",), is_staff=True, is_superuser=True)


@pytest.fixture
def login() -> Callable[[object], Client]:
    def signed_in(user: object) -> Client:
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return signed_in
