"""List endpoints make a constant number of queries, whatever the page holds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from attempts.models import WebhookEndpoint
from attempts.webhooks import webhook_event_emit
from tests.factories import ErratumFactory, PublishedQuestionFactory, ReferenceAnswerVersionFactory, TopicFactory

pytestmark = pytest.mark.django_db


def _constant(client, url: str, grow: Callable[[], None], django_assert_max_num_queries, ceiling: int) -> None:
    """Measure the queries of ``url``, add rows with ``grow``, and require no more queries."""
    with django_assert_max_num_queries(ceiling) as before:
        assert client.get(url).status_code == 200
    grow()
    with django_assert_max_num_queries(len(before.captured_queries)):
        assert client.get(url, {"page_size": 100}).status_code == 200


def test_errata_list(trainee, expert, api_client, django_assert_max_num_queries) -> None:
    ErratumFactory(reporter=trainee)

    def grow() -> None:
        for _ in range(12):
            ErratumFactory(reporter=trainee)

    _constant(api_client(trainee), "/api/v1/errata/", grow, django_assert_max_num_queries, 6)
    _constant(api_client(expert), "/api/v1/errata/", lambda: None, django_assert_max_num_queries, 7)


def test_webhooks_and_delivery_log(hr_user, api_client, django_assert_max_num_queries) -> None:
    endpoint = WebhookEndpoint.objects.create(owner=hr_user, url="http://127.0.0.1:9/h", secret="s" * 20)
    webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={})
    client = api_client(hr_user)

    def grow() -> None:
        for index in range(10):
            WebhookEndpoint.objects.create(owner=hr_user, url=f"http://127.0.0.1:9/{index}", secret="s" * 20)
            webhook_event_emit(event="invitation.completed", owner_id=hr_user.pk, data={"n": index})

    _constant(client, "/api/v1/webhooks/", grow, django_assert_max_num_queries, 6)
    _constant(client, f"/api/v1/webhooks/{endpoint.pk}/deliveries/", lambda: None, django_assert_max_num_queries, 6)


def test_topics_and_question_versions(expert, api_client, django_assert_max_num_queries) -> None:
    question = PublishedQuestionFactory()
    client = api_client(expert)

    def grow() -> None:
        for _ in range(10):
            TopicFactory()
            PublishedQuestionFactory()

    _constant(client, "/api/v1/topics/", grow, django_assert_max_num_queries, 6)

    def more_versions() -> None:
        first = question.versions.get()
        for number in range(2, 12):
            ReferenceAnswerVersionFactory(question=question, number=number, author=expert, based_on=first)

    _constant(client, f"/api/v1/questions/{question.pk}/versions/", more_versions, django_assert_max_num_queries, 7)
