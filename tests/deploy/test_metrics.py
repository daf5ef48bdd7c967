"""``/metrics``: operators only; request, grading, failure and queue metrics in Prometheus format."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from attempts.models import Attempt
from interview_platform.metrics import failure_reason
from tests.factories import AttemptFactory, GradeFactory

TOKEN = "t" * 40


@pytest.fixture
def metrics_token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client: Client | None = None, **headers: str) -> str:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


@pytest.mark.django_db
def test_nobody_but_operators(metrics_token: str, trainee: Any, expert: Any, login: Any) -> None:
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"interview_" not in anonymous.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer " + "x" * 40).status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 403
    assert login(trainee).get("/metrics").status_code == 403
    assert login(expert).get("/metrics").status_code == 403  # curators are not operators


@pytest.mark.django_db
def test_token_and_admin_session_both_work(metrics_token: str, admin_user: Any, login: Any) -> None:
    assert "interview_attempts" in scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "interview_attempts" in scrape(login(admin_user))


@pytest.mark.django_db
def test_without_a_token_setting_a_bearer_is_refused(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db
def test_grading_metrics_come_from_the_database(metrics_token: str) -> None:
    now = timezone.now()
    AttemptFactory.create_batch(2, status=Attempt.Status.QUEUED)
    stale = AttemptFactory(status=Attempt.Status.GRADING)
    Attempt.objects.filter(pk=stale.pk).update(updated_at=now - timedelta(hours=1))
    AttemptFactory(status=Attempt.Status.FAILED, error_message="Grading failed after 6 tries. Last error: HTTP 429")
    AttemptFactory(status=Attempt.Status.FAILED, error_message="Grading took longer than 120 s.")
    AttemptFactory(status=Attempt.Status.FAILED, error_message="The model's reply is not valid JSON.")
    fast = GradeFactory(latency_ms=300, grader="openai-compatible")
    slow = GradeFactory(latency_ms=15_000, grader="openai-compatible")
    Attempt.objects.filter(pk=fast.attempt_id).update(created_at=now - timedelta(seconds=3), graded_at=now)
    Attempt.objects.filter(pk=slow.attempt_id).update(created_at=now - timedelta(seconds=100), graded_at=now)

    found = samples(scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))

    assert found[("interview_attempts", (("status", "queued"),))] == 2
    assert found[("interview_attempts", (("status", "grading"),))] == 1
    assert found[("interview_attempts", (("status", "graded"),))] == 2
    assert found[("interview_attempts", (("status", "failed"),))] == 3
    assert found[("interview_attempts_stale", (("status", "grading"),))] == 1
    assert found[("interview_attempts_stale", (("status", "queued"),))] == 0
    assert found[("interview_grading_failures", (("reason", "rate_limited"),))] == 1
    assert found[("interview_grading_failures", (("reason", "timeout"),))] == 1
    assert found[("interview_grading_failures", (("reason", "malformed_output"),))] == 1
    assert found[("interview_grading_latency_seconds_bucket", (("le", "2.0"),))] == 0
    assert found[("interview_grading_latency_seconds_bucket", (("le", "5.0"),))] == 1
    assert found[("interview_grading_latency_seconds_bucket", (("le", "120.0"),))] == 2
    assert found[("interview_grading_latency_seconds_count", ())] == 2
    assert found[("interview_grading_latency_seconds_sum", ())] == pytest.approx(103, abs=0.5)
    grader = ("grader", "openai-compatible")
    assert found[("interview_grader_call_latency_seconds_bucket", (grader, ("le", "0.5")))] == 1
    assert found[("interview_grader_call_latency_seconds_bucket", (grader, ("le", "20.0")))] == 2
    assert found[("interview_grader_call_latency_seconds_sum", (grader,))] == pytest.approx(15.3)
    assert found[("interview_database_up", ())] == 1
    assert found[("interview_broker_up", ())] == 1
    assert found[("interview_queue_depth", (("queue", "grading"),))] == 0


@pytest.mark.django_db
def test_queue_depth_counts_waiting_messages(metrics_token: str) -> None:
    from interview_platform.celery import app

    with app.connection_for_write() as connection, connection.Producer() as producer:
        for _ in range(3):
            producer.publish({"probe": True}, routing_key="grading", declare=[_queue("grading")])
    try:
        found = samples(scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
        assert found[("interview_queue_depth", (("queue", "grading"),))] == 3
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("grading")


def _queue(name: str) -> Any:
    from kombu import Exchange, Queue

    return Queue(name, Exchange(name), routing_key=name)


@pytest.mark.django_db
def test_requests_are_counted_by_route_not_by_path(metrics_token: str, trainee: Any, login: Any) -> None:
    def count(text: str) -> float:
        match = re.search(r'interview_http_requests_total\{method="GET",status="200",view="login"\} (\S+)', text)
        return float(match.group(1)) if match else 0.0

    before = count(scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    Client().get("/accounts/login/?next=/a")
    Client().get("/accounts/login/?next=/b")
    text = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert count(text) == before + 2
    assert "/accounts/login/" not in text


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Grading took longer than 120 s.", "timeout"),
        ("Request timed out", "timeout"),
        ("Grading failed after 6 tries. Last error: 429 Too Many Requests", "rate_limited"),
        ("The provider refused the API key (401)", "authentication"),
        ("Grading failed after 6 tries. Last error: HTTP 503 from the provider", "provider_error"),
        ("The model's reply is not valid JSON", "malformed_output"),
        ("Something else entirely", "other"),
    ],
)
def test_failure_reasons_are_a_small_fixed_set(message: str, reason: str) -> None:
    assert failure_reason(message) == reason
