"""Topics and questions: filters, Chinese search, pagination, ordering, reference visibility."""

from __future__ import annotations

import pytest

from attempts.models import Attempt
from questions.models import Question
from tests.factories import AttemptFactory, PublishedQuestionFactory, TagFactory

pytestmark = pytest.mark.django_db


def _titles(response) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("复读机", {"什么是 LLMs 复读机问题？", "为什么会出现 LLMs 复读机问题？"}),
        ("SFT", {"SFT和LLM性能", "SFT指令微调数据构建"}),
        ("sft", {"SFT和LLM性能", "SFT指令微调数据构建"}),
        ("显存", {"全参数微调显存需求"}),
        ("复读机 原因", set()),
        ("微调 数据", {"SFT指令微调数据构建"}),
    ],
)
def test_search_finds_chinese_and_latin_terms(trainee, api_client, seed_questions, query, expected) -> None:
    response = api_client(trainee).get("/api/v1/questions/", {"search": query})
    assert response.status_code == 200
    assert set(_titles(response)) == expected
    assert response.json()["count"] == len(expected)


def test_list_is_paginated_with_count_next_previous(trainee, api_client, seed_questions) -> None:
    client = api_client(trainee)
    first = client.get("/api/v1/questions/", {"page_size": 4}).json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 6 and len(first["results"]) == 4 and first["previous"] is None
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    capped = client.get("/api/v1/questions/", {"page_size": 1000})
    assert capped.status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 99}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": 0}, "page"),
        ({"page_size": "x"}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"difficulty": "impossible"}, "difficulty"),
    ],
)
def test_bad_list_parameters_answer_400_with_the_field(trainee, api_client, seed_questions, params, field) -> None:
    response = api_client(trainee).get("/api/v1/questions/", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_filters_by_topic_slug_id_tag_and_difficulty(trainee, api_client, seed_questions) -> None:
    client = api_client(trainee)
    sft = seed_questions["大模型llms微调面/2"]
    assert client.get("/api/v1/questions/", {"topic": "大模型llms微调面"}).json()["count"] == 3
    assert client.get("/api/v1/questions/", {"topic": sft.topic_id}).json()["count"] == 3
    tag = TagFactory(slug="sft", name="SFT")
    sft.tags.add(tag)
    tagged = client.get("/api/v1/questions/", {"tag": "sft"}).json()
    assert [row["id"] for row in tagged["results"]] == [sft.pk]
    assert tagged["results"][0]["tags"] == [{"slug": "sft", "name": "SFT"}]
    Question.objects.filter(pk=sft.pk).update(difficulty="hard")
    assert [r["id"] for r in client.get("/api/v1/questions/", {"difficulty": "hard"}).json()["results"]] == [sft.pk]


def test_ordering_by_title(trainee, api_client, seed_questions) -> None:
    titles = _titles(api_client(trainee).get("/api/v1/questions/", {"ordering": "-title", "page_size": 100}))
    assert titles == sorted(titles, reverse=True)


def test_archived_questions_are_hidden_from_trainees_but_listed_for_experts(
    trainee, expert, api_client, seed_questions
) -> None:
    archived = seed_questions["大模型llms进阶面/1"]
    Question.objects.filter(pk=archived.pk).update(status="archived")
    trainee_ids = [row["id"] for row in api_client(trainee).get("/api/v1/questions/").json()["results"]]
    assert archived.pk not in trainee_ids
    assert api_client(trainee).get(f"/api/v1/questions/{archived.pk}/").status_code == 404
    expert_list = api_client(expert).get("/api/v1/questions/", {"status": "archived"}).json()
    assert [row["id"] for row in expert_list["results"]] == [archived.pk]


def test_list_makes_a_constant_number_of_queries(
    trainee, api_client, seed_questions, django_assert_max_num_queries
) -> None:
    client = api_client(trainee)
    for _ in range(15):
        question = PublishedQuestionFactory()
        question.tags.add(TagFactory())
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/questions/", {"page_size": 100})
    assert response.json()["count"] == 21


def test_topics_list_counts_active_questions(trainee, api_client, seed_questions) -> None:
    rows = api_client(trainee).get("/api/v1/topics/").json()["results"]
    counts = {row["slug"]: row["question_count"] for row in rows}
    assert counts == {"大模型llms进阶面-2": 2, "大模型llms微调面": 3, "大模型llms进阶面": 1}


def test_trainee_sees_reference_only_after_an_attempt(trainee, other_trainee, api_client, seed_questions) -> None:
    question = seed_questions["大模型llms微调面/2"]
    client = api_client(trainee)
    before = client.get(f"/api/v1/questions/{question.pk}/").json()
    assert before["reference"] is None and before["reference_visible"] is False and before["attempted"] is False
    AttemptFactory(user=other_trainee, question=question)
    assert client.get(f"/api/v1/questions/{question.pk}/").json()["reference"] is None  # someone else's attempt
    AttemptFactory(user=trainee, question=question, status=Attempt.Status.QUEUED)
    after = client.get(f"/api/v1/questions/{question.pk}/").json()
    assert after["reference_visible"] is True and after["attempted"] is True
    assert after["reference"]["number"] == 1
    assert "Sparse Feature Training" in after["reference"]["body"]


@pytest.mark.parametrize("role", ["expert", "reviewer", "admin"])
def test_content_staff_see_reference_without_attempting(role, personas, api_client, seed_questions) -> None:
    question = seed_questions["大模型llms微调面/2"]
    body = api_client(personas[role]).get(f"/api/v1/questions/{question.pk}/").json()
    assert body["reference"]["number"] == 1


def test_unknown_question_is_a_json_404(trainee, api_client, db) -> None:
    response = api_client(trainee).get("/api/v1/questions/999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_search_works_on_the_imported_seed(trainee, api_client) -> None:
    """The real seed file, imported by the real command, searched through the API."""
    from django.core.management import call_command

    call_command("import_questions", verbosity=0)
    client = api_client(trainee)

    def titles(query: str) -> list[str]:
        return _titles(client.get("/api/v1/questions/", {"search": query, "page_size": 100}))

    repetition = titles("复读机")
    assert len(repetition) >= 3 and all("复读机" in title for title in repetition)
    assert any("SFT" in title for title in titles("SFT")) and titles("sft") == titles("SFT")
    memory = titles("显存")
    assert any("显存" in title for title in memory)
    assert titles("量子纠缠哈密顿量") == []
