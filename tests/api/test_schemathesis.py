"""Property-based run over the OpenAPI schema: no server error, and every response matches the schema.

schemathesis generates requests for every operation (valid and invalid inputs) and sends
them to the WSGI app in-process, authenticated as an admin (who may call every endpoint).
Bounded: a few examples per operation, so the run takes well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_token_create
from attempts.assessments import assessment_create, invitation_create

MAX_EXAMPLES = 12


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Requests go straight to the WSGI app, whose request signals would close the database
    connection that holds the test's transaction; Django's own test client detaches them too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_headers(admin_user, seed_questions, keep_test_connection) -> dict[str, str]:
    assessment = assessment_create(
        owner=admin_user,
        title="schemathesis",
        question_ids=[question.pk for question in seed_questions.values()][:2],
        time_limit_minutes=30,
        pass_score=60,
    )
    invitation_create(
        assessment=assessment, candidate_name="候选人", candidate_email="c@example.com", created_by=admin_user
    )
    return {"Authorization": f"Token {api_token_create(user=admin_user).raw_key}"}


# Loaded at collection: generating the schema reads no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
@pytest.mark.django_db
def test_api_conforms_to_its_schema(case, admin_headers) -> None:
    case.call_and_validate(
        headers=admin_headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
