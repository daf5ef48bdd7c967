"""Fixtures for the API tests: token-authenticated clients per role, seed-like questions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create
from questions.models import Question, ReferenceAnswerVersion, Topic
from questions.search import search_document_build
from tests.factories import TeamFactory, TeamMembershipFactory

ROLES = ("anonymous", "trainee", "team_lead", "expert", "reviewer", "hr", "admin")


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> Callable[..., APIClient]:
    """``api_client(user)``: a client sending a real hashed API token; ``api_client()`` is anonymous."""

    def make(user: object | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user).raw_key}")
        return client

    return make


@pytest.fixture
def personas(trainee, team_lead, expert, reviewer, hr_user, admin_user) -> dict[str, object | None]:
    TeamMembershipFactory(team=TeamFactory(name="Team A"), user=team_lead, is_lead=True)
    return {
        "anonymous": None,
        "trainee": trainee,
        "team_lead": team_lead,
        "expert": expert,
        "reviewer": reviewer,
        "hr": hr_user,
        "admin": admin_user,
    }


# Questions as the seed file has them (titles and answers copied from
# questions/data/seed_llm_interview.txt), with their search documents built the way the
# importer builds them.
SEED_QUESTIONS = (
    (
        "大模型llms进阶面-2",
        "1.1",
        "什么是 LLMs 复读机问题？",
        "LLMs（Large Language Models）复读机问题是指大型语言模型在文本生成任务中倾向于无目的地、"
        "反复地重复输入文本中的某个短语或句子的现象。",
    ),
    (
        "大模型llms进阶面-2",
        "1.2",
        "为什么会出现 LLMs 复读机问题？",
        "数据偏差：大型语言模型通常是通过预训练阶段使用大规模无标签数据进行训练的。",
    ),
    (
        "大模型llms微调面",
        "1",
        "全参数微调显存需求",
        "显存需求取决于模型的大小和架构，通常来说，全参数微调需要大量显存，尤其是针对大型语言模型。",
    ),
    (
        "大模型llms微调面",
        "2",
        "SFT和LLM性能",
        "SFT（Sparse Feature Training）指的是在微调时使用稀疏特征作为模型的输入。",
    ),
    (
        "大模型llms微调面",
        "3",
        "SFT指令微调数据构建",
        "SFT指令微调数据通常由领域专家根据任务需求来构建，包括定义特征、标签、输入格式等。",
    ),
    (
        "大模型llms进阶面",
        "1",
        "LLMs 训练时 token 的长度如何选择？",
        "上下文长度越长，计算成本越高；一般根据任务的输入长度分布选择。",
    ),
)


@pytest.fixture
def seed_questions(db: None) -> dict[str, Question]:
    """Key ``"<topic slug>/<number>"`` → question with version 1 published."""
    topics: dict[str, Topic] = {}
    questions: dict[str, Question] = {}
    for order, (slug, number, title, body) in enumerate(SEED_QUESTIONS):
        topic = topics.get(slug) or Topic.objects.create(slug=slug, name=slug, order=len(topics))
        topics[slug] = topic
        question = Question.objects.create(
            topic=topic,
            number=number,
            order=order,
            title=title,
            source_file="seed_llm_interview.txt",
            search_document=search_document_build(parts=[title, body]),
        )
        ReferenceAnswerVersion.objects.create(
            question=question,
            number=1,
            body=body,
            key_points=[body[:40]],
            status=ReferenceAnswerVersion.Status.PUBLISHED,
            published_at=timezone.now(),
        )
        questions[f"{slug}/{number}"] = question
    return questions
