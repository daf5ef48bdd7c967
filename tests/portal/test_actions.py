"""Actions on the question page: submitting an answer, retrying a failed one, reporting an error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from attempts.models import Attempt
from questions.models import Erratum
from tests.factories import AttemptFactory

pytestmark = pytest.mark.django_db


def test_report_an_error_from_the_question_page(login, trainee, bank):
    client = login(trainee)
    url = reverse("portal:question_report", args=[bank.sft.pk])
    response = client.post(
        url,
        {
            "quote": "SFT 是稀疏特征训练",
            "explanation": "SFT 是 Supervised Fine-Tuning，即监督微调。",
            "severity": "critical",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "谢谢" in page and "SFT 是稀疏特征训练" in page and "待处理" in page
    erratum = Erratum.objects.get()
    assert (erratum.reporter, erratum.severity, erratum.version.number) == (trainee, "critical", 1)


def test_report_without_htmx_redirects_with_a_message(login, trainee, bank):
    client = login(trainee)
    response = client.post(
        reverse("portal:question_report", args=[bank.sft.pk]),
        {"quote": "某个说法", "explanation": "这个说法与事实不符，原因如下。", "severity": "minor"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:question", args=[bank.sft.pk])
    assert "谢谢" in response.content.decode()


def test_report_with_missing_fields_is_a_400_with_field_messages(login, trainee, bank):
    response = login(trainee).post(
        reverse("portal:question_report", args=[bank.sft.pk]),
        {"quote": "", "explanation": "", "severity": "catastrophic"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count('class="errorlist') >= 3
    assert not Erratum.objects.exists()


def test_service_refusal_of_a_report_is_shown(login, trainee, bank):
    client = login(trainee)
    data = {"quote": "同一句话", "explanation": "同样的解释，足够长的说明文字。", "severity": "major"}
    url = reverse("portal:question_report", args=[bank.sft.pk])
    assert client.post(url, data, HTTP_HX_REQUEST="true").status_code == 200
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "errorlist" in response.content.decode()
    assert Erratum.objects.count() == 1


def test_submit_an_answer_with_htmx_returns_the_live_status_panel(login, trainee, bank):
    client = login(trainee)
    response = client.post(
        reverse("portal:question_answer", args=[bank.sft.pk]),
        {"answer": "SFT 是监督微调。", "time_spent_s": "42"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    attempt = Attempt.objects.get(user=trainee)
    assert (attempt.answer, attempt.time_spent_s, attempt.reference_version.number) == ("SFT 是监督微调。", 42, 1)
    panel = response.content.decode()
    assert f'id="attempt-{attempt.pk}"' in panel
    assert reverse("portal:attempt_status", args=[attempt.pk]) in panel and "every 1s" in panel


def test_submit_without_htmx_redirects_to_the_attempt(login, trainee, bank):
    response = login(trainee).post(reverse("portal:question_answer", args=[bank.sft.pk]), {"answer": "监督微调"})
    attempt = Attempt.objects.get(user=trainee)
    assert response.status_code == 302 and response["Location"] == reverse("portal:attempt", args=[attempt.pk])


@pytest.mark.parametrize(
    ("answer", "message"),
    [("", "请先写下回答"), ("   \n ", "请先写下回答"), ("长" * 20001, "20000")],
)
def test_bad_answers_are_refused_with_a_message(login, trainee, bank, answer, message):
    response = login(trainee).post(
        reverse("portal:question_answer", args=[bank.sft.pk]), {"answer": answer}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#answer-form"
    assert message in response.content.decode()
    assert not Attempt.objects.exists()


def test_archived_question_takes_no_answer(login, trainee, bank):
    bank.sft.status = "archived"
    bank.sft.save(update_fields=["status"])
    response = login(trainee).post(reverse("portal:question_answer", args=[bank.sft.pk]), {"answer": "回答"})
    assert response.status_code == 404
    assert not Attempt.objects.exists()


def test_retry_a_failed_attempt(login, trainee, bank):
    attempt = AttemptFactory(user=trainee, question=bank.sft, status="failed", error_message="超时")
    response = login(trainee).post(reverse("portal:attempt_retry", args=[attempt.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == "queued"
    assert 'data-status="queued"' in response.content.decode()


def test_retry_of_a_graded_attempt_is_refused(login, trainee, bank):
    from tests.portal.conftest import graded_attempt

    attempt = graded_attempt(trainee, bank.sft)
    response = login(trainee).post(reverse("portal:attempt_retry", args=[attempt.pk]), follow=True)
    assert response.status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == "graded"
    assert 'class="error"' in response.content.decode()
