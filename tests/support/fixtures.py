"""pytest fixtures of the grading test infrastructure (loaded by ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_openai import FakeOpenAI, fake_openai_server


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible server on loopback (see ``tests.support.fake_openai``)."""
    with fake_openai_server() as server:
        yield server


@pytest.fixture
def fast_grading(settings: Any) -> Any:
    """Short retry backoff and few retries, so retry paths finish in well under a second."""
    settings.GRADING_MAX_RETRIES = 2
    settings.GRADING_RETRY_BACKOFF_SECONDS = 0.05
    settings.GRADING_RETRY_BACKOFF_MAX_SECONDS = 0.2
    return settings


@pytest.fixture
def llm_grader(settings: Any, fake_openai: FakeOpenAI, fast_grading: Any) -> FakeOpenAI:
    """Grading through the OpenAI-compatible grader pointed at ``fake_openai``."""
    settings.GRADER = "openai"
    settings.LLM_BASE_URL = fake_openai.url
    settings.LLM_API_KEY = ""
    settings.LLM_MODEL = "fake-model"
    settings.LLM_TIMEOUT_SECONDS = 2.0
    settings.LLM_STRUCTURED_OUTPUT = "auto"
    return fake_openai


@pytest.fixture
def offline_grader(settings: Any, fast_grading: Any) -> Any:
    settings.GRADER = "offline"
    return settings


@pytest.fixture
def celery_worker_thread(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker (thread pool) consuming the grading and default queues."""
    from tests.support.worker import celery_worker_running, queues_purge, worker_wait_idle

    queues_purge()
    with celery_worker_running() as worker:
        yield worker
        queues_purge()
        worker_wait_idle()
