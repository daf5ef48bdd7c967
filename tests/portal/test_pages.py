"""The portal's pages per role: status codes, content, refusals, query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from attempts.models import Attempt
from tests.factories import (
    AttemptFactory,
    ErratumFactory,
    PublishedQuestionFactory,
    ReviewStateFactory,
    TeamFactory,
    TeamMembershipFactory,
)
from tests.portal.conftest import graded_attempt, publish_new_version, regrade

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = ["portal:home", "portal:bank", "portal:history", "portal:reviews", "password_change"]


@pytest.mark.parametrize("name", [*SIGNED_IN_PAGES, "portal:team"])
def test_pages_send_anonymous_visitors_to_sign_in(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_question_and_attempt_pages_send_anonymous_visitors_to_sign_in(client: Client, bank, trainee) -> None:
    attempt = graded_attempt(trainee, bank.sft)
    for url in (reverse("portal:question", args=[bank.sft.pk]), reverse("portal:attempt", args=[attempt.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_sign_in_page_is_chinese_by_default_and_english_on_request(client: Client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert "登录" in response.content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in page and "Sign in" in page


def test_sign_in_and_out(client: Client, trainee) -> None:
    response = client.post(reverse("login"), {"username": trainee.username, "password": "wrong"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = client.post(reverse("login"), {"username": trainee.username, "password": "correct-horse-battery-staple"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("portal:home")).status_code == 302


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
@pytest.mark.parametrize("persona", ["trainee", "team_lead", "expert", "hr_user", "admin_user"])
def test_every_role_opens_the_signed_in_pages(request, login, bank, name: str, persona: str) -> None:
    client = login(request.getfixturevalue(persona))
    assert client.get(reverse(name)).status_code == 200


def test_password_change(login, trainee) -> None:
    client = login(trainee)
    response = client.post(
        reverse("password_change"),
        {"old_password": "correct-horse-battery-staple", "new_password1": "一个新的-Passw0rd!", "new_password2": "x"},
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery-staple",
            "new_password1": "一个新的-Passw0rd!",
            "new_password2": "一个新的-Passw0rd!",
        },
    )
    assert response.status_code == 302
    trainee.refresh_from_db()
    assert trainee.check_password("一个新的-Passw0rd!")


# --- Home ---------------------------------------------------------------------------


def test_home_shows_progress_recent_grades_reviews_and_streak(login, trainee, bank, django_assert_max_num_queries):
    attempt = graded_attempt(trainee, bank.sft, score=82)
    ReviewStateFactory(user=trainee, question=bank.lora, due=timezone.now() - timedelta(hours=1))
    ReviewStateFactory(user=trainee, question=bank.hard, due=timezone.now() + timedelta(days=3))
    client = login(trainee)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("portal:home"))
    page = response.content.decode()
    assert "大模型微调面" in page and "1/2" in page  # one of two questions attempted
    assert reverse("portal:attempt", args=[attempt.pk]) in page and ">82<" in page
    assert bank.lora.title in page  # due for review
    assert bank.hard.title not in page  # due in three days
    assert 'id="streak"' in page and '<div class="value">1</div>' in page


# --- Question bank ------------------------------------------------------------------


def test_bank_lists_filters_and_marks_attempted(login, trainee, bank):
    graded_attempt(trainee, bank.sft, score=90)
    client = login(trainee)
    page = client.get(reverse("portal:bank")).content.decode()
    assert bank.sft.title in page and bank.lora.title in page and bank.hard.title in page
    assert page.count('class="mark-done"') == 1
    assert '大模型微调面 <span class="chip-count">2</span>' in page  # topics with their question counts
    assert ">90<" in page

    def titles(**params: str) -> set[str]:
        body = client.get(reverse("portal:bank"), params).content.decode()
        return {q.title for q in (bank.sft, bank.lora, bank.hard) if q.title in body}

    assert titles(search="复读机") == {bank.hard.title}
    assert titles(search="监督微调") == {bank.sft.title}
    assert titles(difficulty="hard") == {bank.hard.title}
    assert titles(tag="peft") == {bank.lora.title}
    assert titles(topic=str(bank.other_topic.pk)) == {bank.hard.title}
    assert titles(attempted="yes") == {bank.sft.title}
    assert titles(attempted="no") == {bank.lora.title, bank.hard.title}


def test_bank_rejects_unknown_filter_values_without_error(login, trainee, bank):
    response = login(trainee).get(reverse("portal:bank"), {"difficulty": "impossible", "topic": "99999"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


def test_bank_htmx_returns_only_the_results(login, trainee, bank):
    response = login(trainee).get(reverse("portal:bank"), {"search": "LoRA"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page and bank.lora.title in page and bank.sft.title not in page


def test_bank_paginates_with_constant_queries(login, trainee, bank, django_assert_num_queries):
    client = login(trainee)
    client.get(reverse("portal:bank"))  # warm the session
    with django_assert_num_queries(12) as small:
        client.get(reverse("portal:bank"))
    for _ in range(25):
        question = PublishedQuestionFactory(topic=bank.topic)
        question.tags.add(bank.tag)
        graded_attempt(trainee, question)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(reverse("portal:bank"))
    assert "1 / 2" in response.content.decode() or "第 1 页" in response.content.decode()
    page2 = client.get(reverse("portal:bank"), {"page": "2"}).content.decode()
    assert page2.count('class="q-row"') == 28 - 20


# --- Question page ------------------------------------------------------------------


def test_question_page_hides_the_reference_until_attempted(login, trainee, bank):
    client = login(trainee)
    reference = bank.sft.versions.get(status="published")
    page = client.get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert bank.sft.title in page and 'name="answer"' in page and 'maxlength="20000"' in page
    assert reference.body not in page
    AttemptFactory(user=trainee, question=bank.sft)
    page = client.get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert reference.body in page and "版本 1" in page


def test_expert_sees_the_reference_without_attempting(login, expert, trainee, bank):
    page = login(expert).get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert bank.sft.versions.get(status="published").body in page
    admin_link = reverse("admin:questions_question_change", args=[bank.sft.pk])
    assert admin_link in page
    assert admin_link not in login(trainee).get(reverse("portal:question", args=[bank.sft.pk])).content.decode()


def test_archived_question_is_404_for_a_trainee(login, trainee, expert, bank):
    bank.hard.status = "archived"
    bank.hard.save(update_fields=["status"])
    assert login(trainee).get(reverse("portal:question", args=[bank.hard.pk])).status_code == 404
    assert login(expert).get(reverse("portal:question", args=[bank.hard.pk])).status_code == 200
    assert login(trainee).get(reverse("portal:question", args=[999999])).status_code == 404


def test_question_page_lists_own_reports_with_their_outcome(login, trainee, other_trainee, bank):
    version = bank.sft.versions.get(status="published")
    ErratumFactory(question=bank.sft, version=version, reporter=trainee, quote="我的报告", status="open")
    fixed_in = publish_new_version(bank.sft, "更正后的答案")
    ErratumFactory(
        question=bank.sft,
        version=version,
        reporter=trainee,
        quote="已修复的报告",
        status="fixed",
        fixed_in=fixed_in,
        resolution_note="已在新版本更正",
    )
    ErratumFactory(question=bank.sft, reporter=other_trainee, quote="别人的报告")
    page = login(trainee).get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert "我的报告" in page and "已修复的报告" in page and "已在新版本更正" in page
    assert "别人的报告" not in page


# --- Attempts -----------------------------------------------------------------------


def test_attempt_page_shows_the_full_result(login, trainee, bank):
    attempt = graded_attempt(trainee, bank.sft, score=82)
    page = login(trainee).get(reverse("portal:attempt", args=[attempt.pk])).content.decode()
    assert 'data-score="82"' in page
    assert "SFT 是监督微调（Supervised Fine-Tuning）" in page and '<q class="evidence">SFT 是监督微调</q>' in page
    assert 'class="missed"' in page
    assert "回答覆盖了定义" in page
    assert "离线评分" in page  # the offline grader, labelled as such
    assert "参考版本 1" in page
    assert attempt.reference_version.body in page
    assert "hx-trigger" not in page.split('id="attempt-')[1].split(">")[0]  # graded: no polling


def test_another_users_attempt_is_404(login, trainee, other_trainee, expert, bank):
    attempt = graded_attempt(other_trainee, bank.sft)
    client = login(trainee)
    assert client.get(reverse("portal:attempt", args=[attempt.pk])).status_code == 404
    assert client.get(reverse("portal:attempt_status", args=[attempt.pk])).status_code == 404
    assert client.post(reverse("portal:attempt_retry", args=[attempt.pk])).status_code == 404
    # Content staff read every attempt, as in the API.
    assert login(expert).get(reverse("portal:attempt", args=[attempt.pk])).status_code == 200


def test_status_panel_polls_while_queued_and_stops_when_graded(login, trainee, bank):
    attempt = AttemptFactory(user=trainee, question=bank.sft)
    client = login(trainee)
    panel = client.get(reverse("portal:attempt_status", args=[attempt.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="queued"' in panel and 'hx-trigger="every 1s"' in panel
    assert attempt.reference_version.body not in panel
    Attempt.objects.filter(pk=attempt.pk).update(status="grading")
    panel = client.get(reverse("portal:attempt_status", args=[attempt.pk])).content.decode()
    assert 'data-status="grading"' in panel and "every 1s" in panel


def test_failed_attempt_shows_its_reason_and_a_retry_button(login, trainee, bank):
    attempt = AttemptFactory(
        user=trainee, question=bank.sft, status="failed", error_message="模型服务拒绝了请求（401）"
    )
    page = login(trainee).get(reverse("portal:attempt", args=[attempt.pk])).content.decode()
    assert "模型服务拒绝了请求（401）" in page
    assert reverse("portal:attempt_retry", args=[attempt.pk]) in page


def test_regraded_attempt_shows_old_and_new_score_and_why(login, trainee, bank):
    attempt = graded_attempt(trainee, bank.sft, score=40)
    version = publish_new_version(bank.sft, "SFT 是监督微调（Supervised Fine-Tuning）。")
    regrade(attempt, version, score=75, reason="参考答案更正了 SFT 的定义")
    client = login(trainee)
    page = client.get(reverse("portal:attempt", args=[attempt.pk])).content.decode()
    assert ">40<" in page and ">75<" in page and "参考答案更正了 SFT 的定义" in page
    assert "参考版本 2" in page
    history = client.get(reverse("portal:history")).content.decode()
    assert ">40<" in history and ">75<" in history and "参考答案更正了 SFT 的定义" in history and "v2" in history


# --- History ------------------------------------------------------------------------


def test_history_lists_own_attempts_with_filters(login, trainee, other_trainee, bank):
    graded_attempt(trainee, bank.sft, score=70)
    AttemptFactory(user=trainee, question=bank.hard, status="failed", error_message="x")
    graded_attempt(other_trainee, bank.lora, score=10)
    old = AttemptFactory(user=trainee, question=bank.lora)
    Attempt.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    client = login(trainee)

    def shown(**params: str) -> set[str]:
        body = client.get(reverse("portal:history"), params).content.decode()
        return {q.title for q in (bank.sft, bank.lora, bank.hard) if q.title in body}

    assert shown() == {bank.sft.title, bank.hard.title, bank.lora.title}
    assert shown(status="failed") == {bank.hard.title}
    assert shown(topic=str(bank.other_topic.pk)) == {bank.hard.title}
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert shown(date_from=since) == {bank.sft.title, bank.hard.title}
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert shown(date_to=until) == {bank.lora.title}
    response = client.get(reverse("portal:history"), {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()


def test_history_query_count_does_not_grow_with_attempts(login, trainee, bank, django_assert_num_queries):
    client = login(trainee)
    graded_attempt(trainee, bank.sft)
    client.get(reverse("portal:history"))
    with django_assert_num_queries(8) as few:
        client.get(reverse("portal:history"))
    for _ in range(12):
        attempt = graded_attempt(trainee, bank.lora)
        regrade(attempt, attempt.reference_version, score=50, reason="复核")
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(reverse("portal:history"))


# --- Reviews ------------------------------------------------------------------------


def test_reviews_page_shows_the_due_queue_and_forecast(login, trainee, other_trainee, bank):
    ReviewStateFactory(user=trainee, question=bank.sft, due=timezone.now() - timedelta(days=1), reps=2)
    ReviewStateFactory(user=trainee, question=bank.lora, due=timezone.now() + timedelta(days=2))
    ReviewStateFactory(user=other_trainee, question=bank.hard, due=timezone.now() - timedelta(days=1))
    page = login(trainee).get(reverse("portal:reviews")).content.decode()
    assert f'data-review="{bank.sft.pk}"' in page
    assert f'data-review="{bank.lora.pk}"' not in page
    assert f'data-review="{bank.hard.pk}"' not in page
    assert "chart-forecast" in page and page.count("<rect") == 14


# --- Team ---------------------------------------------------------------------------


def test_team_page_for_its_lead_only(login, team_lead, trainee, other_trainee, bank):
    team = TeamFactory(name="推理组")
    TeamMembershipFactory(team=team, user=team_lead, is_lead=True)
    TeamMembershipFactory(team=team, user=trainee)
    other = TeamFactory(name="训练组")
    TeamMembershipFactory(team=other, user=other_trainee)
    graded_attempt(trainee, bank.sft, score=66)
    client = login(team_lead)
    page = client.get(reverse("portal:team")).content.decode()
    assert "推理组" in page and "训练组" not in page
    assert f'data-member="{trainee.username}"' in page and ">66<" in page
    assert f'data-member="{other_trainee.username}"' not in page
    assert client.get(reverse("portal:team_detail", args=[team.pk])).status_code == 200
    assert client.get(reverse("portal:team_detail", args=[other.pk])).status_code == 404
    assert login(trainee).get(reverse("portal:team")).status_code == 403
    assert reverse("portal:team") not in login(trainee).get(reverse("portal:home")).content.decode()


# --- Safety -------------------------------------------------------------------------


def test_script_in_a_reference_an_answer_a_report_or_feedback_never_reaches_the_page(login, trainee, bank):
    payload = '<script>alert("x")</script><img src=x onerror="alert(1)"><a href="javascript:alert(2)">link</a>'
    version = bank.sft.versions.get(status="published")
    version.body = "**粗体** " + payload
    version.save(update_fields=["body"])
    attempt = graded_attempt(trainee, bank.sft, feedback="反馈 " + payload)
    Attempt.objects.filter(pk=attempt.pk).update(answer="我的回答 " + payload)
    ErratumFactory(question=bank.sft, version=version, reporter=trainee, quote="引用 " + payload)
    client = login(trainee)
    for url in (reverse("portal:question", args=[bank.sft.pk]), reverse("portal:attempt", args=[attempt.pk])):
        page = client.get(url).content.decode()
        body = page.split("<main", 1)[1]
        assert "<script" not in body
        assert not re.search(r"<[^>]*\sonerror=", body)
        assert 'href="javascript:' not in body
        assert "<strong>粗体</strong>" in body  # Markdown still renders
    answer_page = client.get(reverse("portal:attempt", args=[attempt.pk])).content.decode()
    assert "&lt;script&gt;" in answer_page  # the raw answer is shown escaped


def test_forms_require_a_csrf_token(trainee, bank):
    client = Client(enforce_csrf_checks=True)
    client.force_login(trainee)
    response = client.post(reverse("portal:question_answer", args=[bank.sft.pk]), {"answer": "回答"})
    assert response.status_code == 403
    response = client.post(reverse("portal:question_report", args=[bank.sft.pk]), {"quote": "a", "explanation": "b"})
    assert response.status_code == 403
    page = client.get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert "csrfmiddlewaretoken" in page and 'hx-headers=\'{"X-CSRFToken": "' in page
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post(
        reverse("portal:question_answer", args=[bank.sft.pk]), {"answer": ""}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 400  # past CSRF; the empty answer is refused


def test_page_assets_are_local(client: Client):
    page = client.get(reverse("login")).content.decode()
    assert "/static/vendor/htmx/htmx.min.js" in page and "/static/portal/portal.css" in page
    assert "http://" not in page.replace('"http://', "") and "https://" not in page


def test_pages_switch_to_english_and_keep_chinese_content(login, trainee, bank):
    graded_attempt(trainee, bank.sft, score=77)
    client = login(trainee)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    home = client.get(reverse("portal:home")).content.decode()
    assert '<html lang="en">' in home and "Progress per topic" in home and "Fine-tuning" in home
    question = client.get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert bank.sft.title in question and "What is SFT?" in question and "Submit for grading" in question
    bank_page = client.get(reverse("portal:bank")).content.decode()
    assert "How does LoRA work?" in bank_page  # English titles where they exist
    attempt_page = client.get(reverse("portal:history")).content.decode()
    assert "History" in attempt_page and "Every answer you submitted" in attempt_page


def test_team_page_query_count_does_not_grow_with_members(login, team_lead, bank, django_assert_num_queries):
    team = TeamFactory(name="评测组")
    TeamMembershipFactory(team=team, user=team_lead, is_lead=True)
    client = login(team_lead)
    client.get(reverse("portal:team"))
    with django_assert_num_queries(8) as few:
        client.get(reverse("portal:team"))
    for index in range(8):
        member = TeamMembershipFactory(team=team).user
        graded_attempt(member, bank.sft if index % 2 else bank.hard, score=50 + index)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse("portal:team"))
    assert response.content.decode().count("data-member=") == 9


def test_question_page_resumes_the_live_panel_of_an_answer_still_being_graded(login, trainee, bank):
    attempt = AttemptFactory(user=trainee, question=bank.sft, status="grading")
    page = login(trainee).get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    panel = page.split('id="attempt-panel"')[1]
    assert f'id="attempt-{attempt.pk}"' in panel and 'data-status="grading"' in panel and "every 1s" in panel
    Attempt.objects.filter(pk=attempt.pk).update(status="failed", error_message="x")
    page = login(trainee).get(reverse("portal:question", args=[bank.sft.pk])).content.decode()
    assert f'id="attempt-{attempt.pk}"' not in page


@pytest.mark.parametrize(
    ("persona", "status"), [("trainee", 403), ("expert", 403), ("hr_user", 403), ("admin_user", 200)]
)
def test_team_page_by_role(request, login, persona: str, status: int) -> None:
    assert login(request.getfixturevalue(persona)).get(reverse("portal:team")).status_code == status


def test_fragments_and_pages_are_kept_apart(login, trainee, bank):
    client = login(trainee)
    fragment = client.get(reverse("portal:bank"), HTTP_HX_REQUEST="true")
    assert "<html" not in fragment.content.decode() and "HX-Request" in fragment["Vary"]
    # Going back in history htmx asks for the whole page again.
    restored = client.get(reverse("portal:bank"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restored.content.decode()
    assert "HX-Request" in client.get(reverse("portal:history"))["Vary"]
