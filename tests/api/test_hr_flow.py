"""The whole HR flow end to end, with a real Celery worker and a real webhook receiver.

HR signs in for a token, registers a webhook, builds an assessment and invites a
candidate (both idempotent); the candidate starts, saves answers and submits through the
token-only endpoints; the worker grades every answer with the real task; the invitation
completes and the signed ``invitation.completed`` event reaches an HTTP server on
loopback, which verifies the signature, makes the platform retry once (a 500 first) and
rejects a replay of the very same request.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import pytest

from attempts.models import Attempt, Invitation, WebhookDelivery
from tests.api.webhook_receiver import WebhookReceiver, start_receiver
from tests.factories import PASSWORD, UserFactory
from tests.support.worker import celery_worker_running, database_is_postgresql, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ANSWERS = {
    "大模型llms微调面/2": "SFT 是监督微调（Supervised Fine-Tuning），用标注的指令-回答数据在预训练模型上继续训练。",
    "大模型llms进阶面-2/1.1": "复读机问题指模型在生成时反复重复同一个短语或句子，缺乏多样性。",
}


@pytest.fixture
def receiver():
    receiver = WebhookReceiver(secret="hr-webhook-secret-0123456789", fail_first=1)
    server, url = start_receiver(receiver)
    receiver.url = url
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(transactional_db):
    """A real worker in a thread. On SQLite one at a time: the shared in-memory test database
    locks whole tables, so two writers at once fail instead of waiting."""
    with celery_worker_running(concurrency=2 if database_is_postgresql() else 1) as running:
        yield running


def test_hr_flow_end_to_end(seed_questions, receiver, worker, offline_grader, settings, api_client):
    settings.WEBHOOK_RETRY_BACKOFF_SECONDS = 0.2
    hr_user = UserFactory(username="recruiter", roles=["hr"])

    # HR: a token, a webhook, an assessment (two answered questions and one left blank), an invitation.
    token = api_client().post("/api/v1/auth/token/", {"username": hr_user.username, "password": PASSWORD}).json()
    hr = api_client()
    hr.credentials(HTTP_AUTHORIZATION=f"Token {token['token']}")
    webhook = hr.post("/api/v1/webhooks/", {"url": receiver.url, "secret": receiver.secret}).json()
    question_ids = [seed_questions[key].pk for key in ANSWERS] + [seed_questions["大模型llms微调面/1"].pk]
    payload = {"title": "LLM 工程师初筛", "question_ids": question_ids, "time_limit_minutes": 30, "pass_score": 50}
    assessment = hr.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="a-1").json()
    assert hr.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="a-1").json() == assessment
    invite = {"candidate_name": "李雷", "candidate_email": "lilei@example.com"}
    url = f"/api/v1/assessments/{assessment['id']}/invitations/"
    invitation = hr.post(url, invite, HTTP_IDEMPOTENCY_KEY="i-1").json()
    assert hr.post(url, invite, HTTP_IDEMPOTENCY_KEY="i-1").json()["token"] == invitation["token"]
    assert Invitation.objects.count() == 1

    # The candidate, with nothing but the token.
    candidate = api_client()
    take = f"/api/v1/take/{invitation['token']}/"
    assert candidate.get(take).json()["questions"] == []
    started = candidate.post(take + "start/").json()
    assert [q["id"] for q in started["questions"]] == question_ids
    for key, answer in ANSWERS.items():
        saved = candidate.post(take + "answers/", {"question": seed_questions[key].pk, "answer": answer})
        assert saved.status_code == 200 and saved.json()["saved"] is True
    submitted = candidate.post(take + "submit/")
    assert submitted.status_code == 202 and submitted.json()["status"] in ("submitted", "completed")

    # The worker grades both answers; the invitation completes; the webhook arrives (after one retry).
    def state() -> str:
        attempts = list(Attempt.objects.filter(invitation_id=invitation["id"]).values_list("status", "error_message"))
        deliveries = list(WebhookDelivery.objects.values_list("status", "attempts", "last_error"))
        return f"the webhook; attempts {attempts}, deliveries {deliveries}, receiver {receiver.requests}"

    try:
        wait_until(lambda: receiver.accepted_events, timeout=120, what="the invitation.completed webhook")
    except AssertionError as error:
        raise AssertionError(f"{error}: {state()}") from None
    assert Attempt.objects.filter(invitation_id=invitation["id"], status="graded").count() == 2
    # (Checked only now: on SQLite the test database cannot take writes from this thread while
    # the worker grades.) The invitation was used: no second submit, no more answers.
    again = candidate.post(take + "submit/")
    assert again.status_code == 400 and again.json()["code"] == "already_submitted"
    late_save = candidate.post(take + "answers/", {"question": question_ids[2], "answer": "补充"})
    assert late_save.status_code == 400 and late_save.json()["code"] == "already_submitted"
    detail = hr.get(f"/api/v1/invitations/{invitation['id']}/").json()
    assert detail["status"] == "completed"
    results = detail["results"]
    assert results["complete"] is True and results["graded"] == 2
    assert [row["answered"] for row in results["questions"]] == [True, True, False]
    assert results["questions"][2]["score"] == 0
    assert all(row["grader"]["name"] == "offline" for row in results["questions"][:2])
    expected_total = round(sum(row["score"] for row in results["questions"]) / 3)
    assert results["total"] == expected_total and results["passed"] == (expected_total >= 50)

    event = receiver.accepted_events[0]
    assert event["type"] == "invitation.completed"
    assert event["data"]["invitation"]["id"] == invitation["id"]
    assert event["data"]["results"]["total"] == results["total"]
    statuses = [request.status for request in receiver.requests]
    assert statuses == [500, 200]
    delivered = receiver.requests[-1]
    assert delivered.headers["X-Event-Id"] == event["id"] == receiver.requests[0].headers["X-Event-Id"]

    # A replay of the delivered request is rejected by the receiver.
    replay = urllib.request.Request(receiver.url, data=delivered.body, headers=delivered.headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as rejected:
        urllib.request.urlopen(replay, timeout=5)
    assert rejected.value.code == 409

    # The delivery log, and the CSV export.
    log = hr.get(f"/api/v1/webhooks/{webhook['id']}/deliveries/").json()["results"]
    assert [(row["status"], row["attempts"], row["last_status_code"]) for row in log] == [("succeeded", 2, 200)]
    assert WebhookDelivery.objects.get().payload["id"] == event["id"]
    exported = hr.get(f"/api/v1/assessments/{assessment['id']}/results.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][1] == "李雷" and rows[1][3] == "completed" and rows[1][7] == str(results["total"])

    # The token was revocable all along.
    assert hr.delete("/api/v1/auth/token/").status_code == 204
    assert hr.get("/api/v1/assessments/").status_code == 401
    assert json.loads(delivered.body)["data"]["invitation"]["candidate_name"] == "李雷"
