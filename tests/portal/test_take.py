"""The candidate's test page: no account, a server-enforced clock, drafts, one submit, no leaks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from attempts.assessments import assessment_create, invitation_create
from attempts.models import Attempt, Grade, Invitation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(bank):
    owner = UserFactory(username="hr_owner", roles=["hr"])
    assessment = assessment_create(
        owner=owner,
        title="大模型工程师笔试",
        question_ids=[bank.sft.pk, bank.lora.pk],
        time_limit_minutes=30,
        pass_score=60,
        description="请**独立**完成。",
    )
    invitation, token = invitation_create(
        assessment=assessment, candidate_name="李雷", candidate_email="lilei@example.com", created_by=owner
    )
    return invitation, token


def url(name: str, token: str) -> str:
    return reverse(f"portal:{name}", args=[token])


def test_unknown_expired_and_revoked_links_are_refused_clearly(client: Client, invited) -> None:
    invitation, token = invited
    response = client.get(url("take", "not-a-real-token"))
    assert response.status_code == 404 and "此邀请链接无效" in response.content.decode()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(url("take", token))
    assert response.status_code == 410 and "已过期" in response.content.decode()
    Invitation.objects.filter(pk=invitation.pk).update(status="revoked", expires_at=timezone.now() + timedelta(days=1))
    response = client.get(url("take", token))
    assert response.status_code == 410 and "撤回" in response.content.decode()


def test_start_page_then_the_clock_starts_on_the_server(client: Client, invited, bank) -> None:
    invitation, token = invited
    page = client.get(url("take", token)).content.decode()
    assert "大模型工程师笔试" in page and "李雷" in page and "<strong>独立</strong>" in page
    assert "30 分钟" in page and "2 道题" in page
    assert bank.sft.title not in page  # questions appear once the clock runs
    assert client.post(url("take_start", token)).status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "started" and invitation.started_at is not None
    page = client.get(url("take", token)).content.decode()
    assert bank.sft.title in page and bank.lora.title in page
    seconds = int(re.search(r'data-seconds-left="(\d+)"', page).group(1))
    assert 29 * 60 < seconds <= 30 * 60
    for question in (bank.sft, bank.lora):
        assert question.versions.get(status="published").body not in page  # never a reference answer
    # Starting again does not reset the clock.
    started_at = invitation.started_at
    client.post(url("take_start", token))
    invitation.refresh_from_db()
    assert invitation.started_at == started_at


def test_answers_are_saved_as_drafts_and_shown_again(client: Client, invited, bank) -> None:
    invitation, token = invited
    client.post(url("take_start", token))
    response = client.post(
        url("take_save", token),
        {"question": str(bank.sft.pk), f"answer_{bank.sft.pk}": "监督微调"},
        HTTP_HX_REQUEST="1",
    )
    assert response.status_code == 200 and "保存" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.draft_answers == {str(bank.sft.pk): "监督微调"}
    assert "监督微调</textarea>" in client.get(url("take", token)).content.decode()
    # Bad input gets a clear 400.
    response = client.post(url("take_save", token), {"question": "abc"})
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()
    response = client.post(url("take_save", token), {"question": str(bank.hard.pk), f"answer_{bank.hard.pk}": "x"})
    assert response.status_code == 400 and "不属于该测评" in response.content.decode()
    response = client.post(
        url("take_save", token), {"question": str(bank.sft.pk), f"answer_{bank.sft.pk}": "长" * 20001}
    )
    assert response.status_code == 400 and "20000" in response.content.decode()


def test_after_the_deadline_saves_are_refused_and_the_time_up_page_offers_submit(client: Client, invited, bank):
    invitation, token = invited
    client.post(url("take_start", token))
    client.post(url("take_save", token), {"question": str(bank.sft.pk), f"answer_{bank.sft.pk}": "按时保存的答案"})
    Invitation.objects.filter(pk=invitation.pk).update(started_at=timezone.now() - timedelta(minutes=31))
    response = client.post(url("take_save", token), {"question": str(bank.sft.pk), f"answer_{bank.sft.pk}": "迟到的"})
    assert response.status_code == 409 and "已超过时限" in response.content.decode()
    page = client.get(url("take", token)).content.decode()
    assert "时间到" in page and url("take_submit", token) in page and "1 个回答" in page
    clock = client.get(url("take_clock", token)).content.decode()
    assert 'data-seconds-left="0"' in clock
    invitation.refresh_from_db()
    assert invitation.draft_answers == {str(bank.sft.pk): "按时保存的答案"}


def test_submit_grades_the_answers_once_and_hides_scores(client: Client, invited, bank) -> None:
    invitation, token = invited
    client.post(url("take_start", token))
    response = client.post(
        url("take_submit", token),
        {f"answer_{bank.sft.pk}": "SFT 是监督微调。", f"answer_{bank.lora.pk}": ""},
    )
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "submitted"
    attempts = list(Attempt.objects.filter(invitation=invitation))
    assert [(a.question_id, a.answer, a.mode) for a in attempts] == [(bank.sft.pk, "SFT 是监督微调。", "assessment")]
    Attempt.objects.filter(pk=attempts[0].pk).update(status="graded")
    Grade.objects.create(
        attempt=attempts[0],
        reference_version=attempts[0].reference_version,
        score=91,
        is_current=True,
        grader="offline",
    )
    page = client.get(url("take", token)).content.decode()
    assert "你的答案已提交" in page and "91" not in page and 'class="score' not in page
    # A second submit changes nothing.
    assert client.post(url("take_submit", token)).status_code == 302
    assert Attempt.objects.filter(invitation=invitation).count() == 1


def test_results_are_shown_only_when_the_assessment_allows(client: Client, invited, bank) -> None:
    invitation, token = invited
    invitation.assessment.show_results_to_candidate = True
    invitation.assessment.save(update_fields=["show_results_to_candidate"])
    client.post(url("take_start", token))
    client.post(url("take_submit", token), {f"answer_{bank.sft.pk}": "SFT 是监督微调。"})
    page = client.get(url("take", token)).content.decode()
    assert 'id="results"' in page and "hx-trigger" in page.split('id="results"')[1].split(">")[0]
    attempt = Attempt.objects.get(invitation=invitation)
    Grade.objects.create(
        attempt=attempt, reference_version=attempt.reference_version, score=88, is_current=True, grader="offline"
    )
    Attempt.objects.filter(pk=attempt.pk).update(status="graded")
    Invitation.objects.filter(pk=invitation.pk).update(status="completed", completed_at=timezone.now())
    page = client.get(url("take", token), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in page and ">44<" in page  # mean of 88 and an unanswered 0
    assert "未通过" in page and "未作答" in page
    assert attempt.reference_version.body not in page


def test_candidate_forms_require_csrf(invited, bank) -> None:
    _invitation, token = invited
    client = Client(enforce_csrf_checks=True)
    assert client.post(url("take_start", token)).status_code == 403
    page = client.get(url("take", token)).content.decode()
    assert "csrfmiddlewaretoken" in page
