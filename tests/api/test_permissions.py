"""The role × endpoint matrix (docs/api.md), tested endpoint by endpoint, role by role.

Each row names an endpoint, the request, and the status every role gets. A user never
learns that another user's attempt exists: it answers 404, like an id that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from attempts.assessments import invitation_create
from attempts.models import Attempt, WebhookEndpoint
from interview_platform.api import urls as api_urls
from questions.models import Erratum, ReferenceAnswerVersion
from tests.api.conftest import ROLES
from tests.factories import PASSWORD, AssessmentFactory, AssessmentQuestionFactory, AttemptFactory

pytestmark = pytest.mark.django_db

ANY = {role: 200 for role in ROLES}


def signed_in(ok: int) -> dict[str, int]:
    return {"anonymous": 401, **{role: ok for role in ROLES if role != "anonymous"}}


def only(ok: int, *roles: str) -> dict[str, int]:
    allowed = {*roles, "admin"}
    return {"anonymous": 401, **{role: ok if role in allowed else 403 for role in ROLES if role != "anonymous"}}


EXPERTS = ("expert", "reviewer")
OWNER_OR_STAFF = {
    "anonymous": 401,
    "trainee": 200,
    "team_lead": 404,
    "expert": 200,
    "reviewer": 200,
    "hr": 404,
    "admin": 200,
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


CONTENT = {
    "body": "SFT 是监督微调（Supervised Fine-Tuning）。",
    "key_points": ["SFT 是监督微调", "使用标注数据", "在预训练模型上继续训练"],
    "change_note": "更正全称",
}

MATRIX = [
    Row("GET", "/api/v1/schema/", ANY),
    Row("GET", "/api/v1/docs/", ANY),
    Row("POST", "/api/v1/auth/token/", {role: 201 for role in ROLES}, {"username": "trainee_a", "password": PASSWORD}),
    Row("DELETE", "/api/v1/auth/token/", signed_in(204)),
    Row("GET", "/api/v1/me/", signed_in(200)),
    Row("GET", "/api/v1/me/progress/", signed_in(200)),
    Row("GET", "/api/v1/reviews/due/", signed_in(200)),
    Row("GET", "/api/v1/teams/progress/", only(200, "team_lead")),
    Row("GET", "/api/v1/topics/", signed_in(200)),
    Row("GET", "/api/v1/questions/", signed_in(200)),
    Row("GET", "/api/v1/questions/{question}/", signed_in(200)),
    Row("GET", "/api/v1/questions/{question}/versions/", only(200, *EXPERTS)),
    Row("POST", "/api/v1/questions/{question}/versions/", only(201, *EXPERTS), {**CONTENT, "base_version": 2}),
    Row("GET", "/api/v1/versions/{version}/", only(200, *EXPERTS)),
    Row("POST", "/api/v1/versions/{draft}/submit/", {**only(200, "expert"), "reviewer": 403}),
    Row("POST", "/api/v1/versions/{version}/approve/", only(200, "reviewer")),
    Row("POST", "/api/v1/versions/{version}/reject/", only(200, "reviewer"), {"comment": "证据不足"}),
    Row(
        "POST",
        "/api/v1/questions/{question}/errata/",
        signed_in(201),
        {"quote": "稀疏特征", "explanation": "不是稀疏特征"},
    ),
    Row("GET", "/api/v1/errata/", signed_in(200)),
    Row("POST", "/api/v1/errata/{erratum}/resolve/", only(200, *EXPERTS), {"status": "rejected", "note": "原文无误"}),
    Row("GET", "/api/v1/attempts/", signed_in(200)),
    Row("POST", "/api/v1/attempts/", signed_in(202), {"question": "{question}", "answer": "SFT 是监督微调。"}),
    Row("GET", "/api/v1/attempts/{attempt}/", OWNER_OR_STAFF),
    Row(
        "POST",
        "/api/v1/attempts/{failed_attempt}/retry/",
        {**OWNER_OR_STAFF, "trainee": 202, "expert": 202, "reviewer": 202, "admin": 202},
    ),
    Row("POST", "/api/v1/attempts/{failed_attempt}/regrade/", only(202, *EXPERTS)),
    Row("GET", "/api/v1/assessments/", only(200, "hr")),
    Row(
        "POST",
        "/api/v1/assessments/",
        only(201, "hr"),
        {"title": "初筛", "question_ids": ["{question}"], "time_limit_minutes": 20},
    ),
    Row("GET", "/api/v1/assessments/{assessment}/", only(200, "hr")),
    Row("DELETE", "/api/v1/assessments/{assessment}/", only(204, "hr")),
    Row("GET", "/api/v1/assessments/{assessment}/invitations/", only(200, "hr")),
    Row(
        "POST",
        "/api/v1/assessments/{assessment}/invitations/",
        only(201, "hr"),
        {"candidate_name": "张三", "candidate_email": "zs@example.com"},
    ),
    Row("GET", "/api/v1/assessments/{assessment}/results.csv", only(200, "hr")),
    Row("GET", "/api/v1/invitations/", only(200, "hr")),
    Row("GET", "/api/v1/invitations/{invitation}/", only(200, "hr")),
    Row("POST", "/api/v1/invitations/{invitation}/revoke/", only(200, "hr")),
    Row("GET", "/api/v1/webhooks/", only(200, "hr")),
    Row("POST", "/api/v1/webhooks/", only(201, "hr"), {"url": "http://127.0.0.1:9/hook"}),
    Row("GET", "/api/v1/webhooks/{webhook}/", only(200, "hr")),
    Row("GET", "/api/v1/webhooks/{webhook}/deliveries/", only(200, "hr")),
    Row("DELETE", "/api/v1/webhooks/{webhook}/", only(204, "hr")),
    Row("GET", "/api/v1/take/{token}/", ANY),
    Row("POST", "/api/v1/take/{token}/start/", ANY),
    Row("POST", "/api/v1/take/{token}/answers/", ANY, {"question": "{question}", "answer": "监督微调"}),
    Row("POST", "/api/v1/take/{started_token}/submit/", {role: 202 for role in ROLES}),
]


@pytest.fixture
def world(personas, seed_questions) -> dict[str, Any]:
    """One of everything, owned by the personas: the trainee's attempts, the HR user's assessment…"""
    question = seed_questions["大模型llms微调面/2"]
    expert, hr = personas["expert"], personas["hr"]
    draft = ReferenceAnswerVersion.objects.create(
        question=question, number=2, body="草稿", key_points=CONTENT["key_points"], author=expert, change_note="x"
    )
    in_review = ReferenceAnswerVersion.objects.create(
        question=seed_questions["大模型llms微调面/3"],
        number=2,
        body="待审",
        key_points=CONTENT["key_points"],
        author=expert,
        status="in_review",
        change_note="x",
    )
    attempt = AttemptFactory(user=personas["trainee"], question=question, status=Attempt.Status.GRADED)
    failed = AttemptFactory(
        user=personas["trainee"], question=question, status=Attempt.Status.FAILED, error_message="provider down"
    )
    assessment = AssessmentFactory(owner=hr)
    AssessmentQuestionFactory(assessment=assessment, question=question, position=1)
    invitation, token = invitation_create(
        assessment=assessment, candidate_name="李雷", candidate_email="l@example.com", created_by=hr
    )
    _, started_token = invitation_create(
        assessment=assessment, candidate_name="韩梅梅", candidate_email="h@example.com", created_by=hr
    )
    from attempts.assessments import invitation_get_by_token, invitation_save_answer

    invitation_save_answer(
        invitation=invitation_get_by_token(token=started_token), question_id=question.pk, answer="监督微调"
    )
    webhook = WebhookEndpoint.objects.create(owner=hr, url="http://127.0.0.1:9/hook", secret="s" * 20)
    erratum = Erratum.objects.create(question=question, quote="稀疏", explanation="不对", reporter=personas["trainee"])
    return {
        "question": question.pk,
        "draft": draft.pk,
        "version": in_review.pk,
        "attempt": attempt.pk,
        "failed_attempt": failed.pk,
        "assessment": assessment.pk,
        "invitation": invitation.pk,
        "token": token,
        "started_token": started_token,
        "webhook": webhook.pk,
        "erratum": erratum.pk,
    }


def _fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in world:
            return world[value[1:-1]]
        return value.format(**world)
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
def test_role_matrix(row: Row, role: str, personas, world, api_client) -> None:
    client = api_client(personas[role])
    response = getattr(client, row.method.lower())(_fill(row.path, world), _fill(row.body, world), format="json")
    assert response.status_code == row.expected[role], (role, row.id, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json")


def _shape(route: str) -> str:
    return re.sub(r"<[^>]+>|\{[a-z_]+\}", "{}", route.removeprefix("/api/v1/"))


def test_matrix_covers_every_route() -> None:
    """A new endpoint must get a row here (and one in docs/api.md)."""
    routes = {_shape(str(pattern.pattern)) for pattern in api_urls.urlpatterns} - {"^.*$"}
    covered = {_shape(row.path) for row in MATRIX}
    assert sorted(routes - covered) == []
