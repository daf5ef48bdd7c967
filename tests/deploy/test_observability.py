"""Request ids: made or accepted per request, echoed, logged as JSON, carried into Celery tasks."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from accounts.services import api_token_create
from attempts.models import Attempt
from interview_platform.celery import app as celery_app
from interview_platform.observability import (
    RequestIdFilter,
    request_id_var,
    task_prerun_set_context,
    task_publish_add_request_id,
)
from tests.factories import PublishedQuestionFactory
from tests.support.worker import wait_until


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """JSON lines of the root logger, formatted and filtered as ``settings.LOGGING`` does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("interview_platform.requests", "celery.app.trace"):
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        logging.getLogger("interview_platform.requests").setLevel(logging.NOTSET)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


@pytest.mark.django_db
def test_a_request_gets_an_id_echoed_in_the_response(client: Client) -> None:
    first = client.get("/accounts/login/")
    second = client.get("/accounts/login/")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
def test_a_safe_incoming_id_is_kept_and_an_unsafe_one_replaced(client: Client) -> None:
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="lb-1234.abc")["X-Request-ID"] == "lb-1234.abc"
    replaced = client.get("/accounts/login/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-ID"]
    assert replaced != "<script>alert(1)</script>" and len(replaced) == 32
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="x" * 65)["X-Request-ID"] != "x" * 65


@pytest.mark.django_db
def test_the_access_log_line_is_json_with_the_request_id(client: Client, json_log: io.StringIO) -> None:
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="trace-me-1")
    assert response.status_code == 200
    access = [line for line in _lines(json_log) if line["name"] == "interview_platform.requests"]
    assert access[-1]["request_id"] == "trace-me-1"
    assert access[-1]["path"] == "/accounts/login/"
    assert access[-1]["status"] == 200
    assert access[-1]["duration_ms"] >= 0


def test_log_lines_outside_a_request_say_so(json_log: io.StringIO) -> None:
    logging.getLogger("tests.deploy").warning("no request here")
    assert _lines(json_log)[-1]["request_id"] == "-"


def test_publishing_copies_the_current_request_id_into_the_task_headers() -> None:
    token = request_id_var.set("req-42")
    try:
        headers: dict[str, Any] = {"task": "attempts.tasks.grade_attempt"}
        task_publish_add_request_id(headers=headers)
        assert headers["request_id"] == "req-42"
        already = {"request_id": "first"}
        task_publish_add_request_id(headers=already)
        assert already["request_id"] == "first"  # a retry keeps the original id
    finally:
        request_id_var.reset(token)
    outside: dict[str, Any] = {}
    task_publish_add_request_id(headers=outside)
    assert "request_id" not in outside


def test_a_task_reads_the_request_id_back_and_rejects_junk() -> None:
    class Request:
        request_id = "req-43"

    class Task:
        name = "attempts.tasks.grade_attempt"
        request = Request()

    task_prerun_set_context(task_id="t-1", task=Task())
    assert request_id_var.get() == "req-43"
    Request.request_id = "bad value with spaces"
    task_prerun_set_context(task_id="t-2", task=Task())
    assert request_id_var.get() == ""


@pytest.mark.slow
def test_the_request_id_reaches_the_grading_task_in_a_real_worker(
    transactional_db: None, celery_worker_thread: Any, offline_grader: Any, json_log: io.StringIO, trainee: Any
) -> None:
    """Submitted over the API with an id; the worker's log line for ``grade_attempt`` carries it."""
    question = PublishedQuestionFactory()
    raw_key = api_token_create(user=trainee).raw_key
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    response = Client().post(
        "/api/v1/attempts/",
        {"question": question.pk, "answer": "SFT 是监督微调（Supervised Fine-Tuning）。"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {raw_key}",
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 202, response.content
    attempt = Attempt.objects.get(pk=response.json()["id"])
    assert attempt.request_id == request_id

    wait_until(
        lambda: Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.GRADED).exists(),
        what="the attempt to be graded",
    )

    def task_line() -> dict[str, Any] | None:
        for line in _lines(json_log):
            if line.get("task_name") == "attempts.tasks.grade_attempt" and line["name"] == "celery.app.trace":
                return line
        return None

    line = wait_until(task_line, what="the grading task's log line", timeout=5)
    assert line["request_id"] == request_id
    assert line["task_id"]
    assert celery_app.conf.worker_hijack_root_logger is False
