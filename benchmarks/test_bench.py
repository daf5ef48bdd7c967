"""Speed of the hot paths, measured with pytest-benchmark (``make bench``).

Targets (on the 2-core reference machine):
- offline grading of one answer: under 50 ms (a worker thread grades hundreds a minute);
- question list with a Chinese search, one API page: under 100 ms;
- submission to graded through a real worker (offline grader, in-memory broker): under 2 s.
The report prints min/mean/max; nothing here fails on time, the numbers are read.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from attempts.graders.base import GradingRequest
from attempts.graders.offline import OfflineGrader
from attempts.models import Attempt
from attempts.services import attempt_submit
from questions.models import Question
from questions.selectors import question_published_version
from tests.factories import UserFactory
from tests.support.worker import celery_worker_running, queues_purge, wait_until

ANSWER = (
    "SFT 是监督微调（Supervised Fine-Tuning）：在预训练好的基座模型上，用人工标注或筛选的指令-回答对"
    "继续训练，损失只计算回答部分的 token。它让模型学会遵循指令和对话格式，数据质量比数量更重要。"
)


def _sft_question() -> Question:
    return Question.objects.filter(title__icontains="SFT").order_by("id").first()


@pytest.mark.django_db
def test_offline_grader_one_answer(benchmark: Any, shipped_bank: None) -> None:
    question = _sft_question()
    version = question_published_version(question)
    request = GradingRequest(
        question=question.title,
        reference_answer=version.body,
        key_points=tuple(version.key_points),
        misconceptions=tuple(version.misconceptions),
        answer=ANSWER,
    )
    grader = OfflineGrader()
    grader.grade(request)  # jieba's dictionary loads once per process; not part of the measure
    result = benchmark(grader.grade, request)
    assert 0 <= result.score <= 100


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["复读机", "SFT", "显存 微调"])
def test_question_search_api_page(benchmark: Any, shipped_bank: None, query: str) -> None:
    client = APIClient()
    client.force_authenticate(UserFactory(username="bench", roles=["trainee"]))
    client.get("/api/v1/questions/", {"search": query})  # warm caches and segmenter

    def page() -> Any:
        return client.get("/api/v1/questions/", {"search": query})

    response = benchmark(page)
    assert response.status_code == 200
    assert response.json()["count"] >= 1


@pytest.mark.django_db(transaction=True)
def test_submission_to_graded_latency(benchmark: Any, shipped_bank: None, offline_grader: Any) -> None:
    user = UserFactory(username="bench-latency", roles=["trainee"])
    question = _sft_question()
    queues_purge()
    with celery_worker_running():

        def submit_and_wait() -> float:
            started = time.perf_counter()
            attempt = attempt_submit(question_id=question.pk, answer=ANSWER, user=user)
            wait_until(
                lambda: Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.GRADED,
                timeout=30,
                interval=0.01,
                what="the attempt to be graded",
            )
            return time.perf_counter() - started

        seconds = benchmark.pedantic(submit_and_wait, rounds=10, iterations=1)
    assert seconds < 30
