"""End to end in real Chromium: practise with live grading, switch language, take a candidate test.

A live server (pytest-django) and a real Celery worker grade with the offline grader, so
what the browser shows is what a person would see. Screenshots of the main pages are saved
under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attempts.assessments import assessment_create, invitation_create
from attempts.models import Attempt, Invitation
from questions.search import search_document_build
from tests.factories import (
    PASSWORD,
    PublishedQuestionFactory,
    TagFactory,
    TeamFactory,
    TeamMembershipFactory,
    TopicFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GOOD_ANSWER = (
    "SFT 是监督微调（Supervised Fine-Tuning）：在预训练模型的基础上继续训练，"
    "使用人工标注的指令-回答数据，让模型学会按指令回答。"
)
LORA_ANSWER = "LoRA 用低秩矩阵近似权重更新，只训练少量参数。"


def make_bank() -> dict[str, Any]:
    topic = TopicFactory(slug="大模型llms微调面", name="大模型（LLMs）微调面", name_en="LLM fine-tuning")
    other = TopicFactory(slug="大模型llms进阶面", name="大模型（LLMs）进阶面", name_en="LLM advanced")
    tag = TagFactory(slug="sft", name="SFT")
    sft = PublishedQuestionFactory(
        topic=topic, number="1", title="什么是 SFT？它和预训练有什么区别？", title_en="What is SFT?"
    )
    sft.tags.add(tag)
    version = sft.versions.get(status="published")
    version.body = (
        "**SFT（Supervised Fine-Tuning，监督微调）** 是在预训练模型的基础上，用人工标注的"
        "指令-回答对继续训练。\n\n- 目标：让模型遵循指令\n- 数据：高质量标注数据\n\n<script>alert('x')</script>"
    )
    version.save(update_fields=["body"])
    others = [
        PublishedQuestionFactory(topic=topic, number="2", title="LoRA 的原理是什么？为什么能节省显存？"),
        PublishedQuestionFactory(topic=other, number="3", title="大模型为什么会出现复读机问题？如何缓解？"),
    ]
    for question in (sft, *others):
        question.search_document = search_document_build(parts=[question.title, question.title_en])
        question.save(update_fields=["search_document"])
    return {"topic": topic, "sft": sft, "others": others}


def sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_trainee_answers_watches_the_grade_arrive_and_switches_language(
    live_server: Any, page: Any, screenshot: Any, grading_worker: Any
) -> None:
    bank = make_bank()
    trainee = UserFactory(username="xiaoming", first_name="小明", roles=["trainee"])
    lead = UserFactory(username="lead_wang", roles=["trainee", "team_lead"])
    team = TeamFactory(name="算法一组")
    TeamMembershipFactory(team=team, user=lead, is_lead=True)
    TeamMembershipFactory(team=team, user=trainee)
    base = live_server.url
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.on("dialog", lambda dialog: console_errors.append(f"unexpected dialog {dialog.message}"))

    sign_in(page, base, "xiaoming")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "欢迎回来" in page.inner_text("h1")
    screenshot(page, "01-home-empty")

    # The bank: Chinese search narrows the list live (htmx), then open the question.
    page.click("text=题库")
    assert page.locator("tr.q-row").count() == 3
    page.fill("input[name=search]", "复读机")
    expect(page.locator("tr.q-row")).to_have_count(1)
    assert "复读机" in page.inner_text("tr.q-row")
    assert "search=" in page.url  # the filter is in the address, so it can be shared
    screenshot(page, "02-bank-search")
    page.fill("input[name=search]", "预训练")
    expect(page.locator("tr.q-row")).to_have_count(1)
    expect(page.locator("tr.q-row")).to_contain_text("SFT")
    page.click(f"text={bank['sft'].title}")
    assert page.locator("h1.prompt").inner_text() == bank["sft"].title
    assert "你自己回答过这道题之后" in page.inner_text("body")  # no reference before attempting

    # Answer: the character count follows the typing; submitting shows the live status.
    answer = GOOD_ANSWER + "<script>document.title = 'pwned'</script>"
    page.fill("textarea[name=answer]", answer)
    assert page.inner_text("#answer-count").startswith(f"{len(answer)} / 20000")
    page.click("text=提交评分")
    panel = page.locator(".attempt-status")
    panel.wait_for()
    assert panel.get_attribute("data-status") in ("queued", "grading", "graded")
    assert page.input_value("textarea[name=answer]") == ""  # the form is ready for another try
    page.wait_for_selector('.attempt-status[data-status="graded"]', timeout=30_000)
    assert page.url.endswith(f"/questions/{bank['sft'].pk}/")  # no reload happened
    attempt = Attempt.objects.get(user=trainee)
    assert attempt.status == "graded"

    # The result: score, key points with evidence, grader, then the reference with its version.
    score = int(page.locator(".score.big").inner_text())
    assert 0 <= score <= 100
    assert page.locator(".checklist li").count() >= 3
    assert "离线评分器" in page.inner_text(".grader")
    assert "依据参考版本 1" in page.inner_text(".attempt-status")
    reference = page.locator(".attempt-status .reference")
    assert "版本 1" in reference.inner_text() and "监督微调" in reference.inner_text()
    assert page.locator(".attempt-status .reference strong").first.inner_text().startswith("SFT")
    assert page.locator("main script").count() == 0  # the reference's <script> was removed
    page.click("text=你的回答 >> nth=-1")  # the answer, shown as text
    assert "<script>document.title" in page.inner_text(".answer-text")
    assert page.title() != "pwned"
    screenshot(page, "03-question-graded")

    page.click("text=历史")
    assert page.locator("tr[data-attempt]").count() == 1
    screenshot(page, "04-history")
    page.click("text=复习")
    page.locator(".chart-forecast").wait_for()
    screenshot(page, "05-reviews")
    page.click("text=首页")
    assert page.locator("#streak .value").inner_text() == "1"
    screenshot(page, "06-home-progress")

    # Switch to English and back is remembered across pages.
    page.click("button[value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Welcome back" in page.inner_text("h1")
    page.click("text=Question bank")
    assert "Question bank" in page.inner_text("h1")
    screenshot(page, "07-bank-english")
    page.click("button[value=zh-hans]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    # On a phone the question page still reads well.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/attempts/{attempt.pk}/")
    screenshot(page, "08-attempt-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    # Sign out; the team lead sees the grid.
    page.click("text=退出登录")
    page.wait_for_url(re.compile(r".*/accounts/login/.*"))
    sign_in(page, base, "lead_wang")
    page.click("text=团队")
    assert page.locator("tr[data-member=xiaoming]").count() == 1
    screenshot(page, "09-team")
    assert not console_errors, console_errors


def test_candidate_takes_the_test_through_the_link(
    live_server: Any, page: Any, screenshot: Any, grading_worker: Any
) -> None:
    bank = make_bank()
    owner = UserFactory(username="hr_li", roles=["hr"])
    assessment = assessment_create(
        owner=owner,
        title="大模型算法工程师 · 笔试",
        question_ids=[bank["sft"].pk, bank["others"][0].pk],
        time_limit_minutes=20,
        pass_score=60,
        description="请独立完成，不要查阅资料。",
        show_results_to_candidate=True,
    )
    invitation, token = invitation_create(
        assessment=assessment, candidate_name="韩梅梅", candidate_email="hmm@example.com", created_by=owner
    )
    base = live_server.url
    page.goto(f"{base}/take/{token}/")
    assert "韩梅梅" in page.inner_text("main")
    screenshot(page, "10-take-start")
    page.click("text=开始测评")
    countdown = page.locator(".countdown")
    countdown.wait_for()
    expect(countdown).to_have_text(re.compile(r"^\s*\d{2}:\d{2}\s*$"))
    assert countdown.inner_text().startswith(("19:", "20:"))

    first = f"#answer-{bank['sft'].pk}"
    page.fill(first, GOOD_ANSWER)
    page.wait_for_selector(f"#saved-{bank['sft'].pk} >> text=保存")
    invitation.refresh_from_db()
    assert invitation.draft_answers[str(bank["sft"].pk)] == GOOD_ANSWER
    screenshot(page, "11-take-answering")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "11-take-answering-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 860})

    # Leaving the page right after typing (before the debounced save) still keeps the text.
    second = f"#answer-{bank['others'][0].pk}"
    page.fill(second, "草稿")
    page.goto("about:blank")
    for _ in range(50):
        invitation.refresh_from_db()
        if invitation.draft_answers.get(str(bank["others"][0].pk)) == "草稿":
            break
        page.wait_for_timeout(100)
    assert invitation.draft_answers.get(str(bank["others"][0].pk)) == "草稿"

    # Back on the link: the saved answers come back; the clock keeps the server's time.
    page.goto(f"{base}/take/{token}/")
    assert page.input_value(first) == GOOD_ANSWER and page.input_value(second) == "草稿"
    # The last answer is typed and submitted at once: the final post carries it.
    page.fill(second, LORA_ANSWER)

    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("#submit-all")
    page.wait_for_selector("text=你的答案已提交")
    assert dialogs and "提交后不能再修改" in dialogs[0]
    page.wait_for_selector("#results .score.big", timeout=30_000)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.COMPLETED
    assert invitation.completed_at is not None and invitation.completed_at <= timezone.now()
    assert "高质量标注数据" not in page.inner_text("main")  # never the reference answer
    assert "未作答" not in page.inner_text("#results")  # both answers arrived
    answers = dict(Attempt.objects.filter(invitation=invitation).values_list("question_id", "answer"))
    assert answers == {bank["sft"].pk: GOOD_ANSWER, bank["others"][0].pk: LORA_ANSWER}
    screenshot(page, "12-take-results")


def test_the_clock_runs_out_and_only_answers_saved_in_time_are_submitted(
    live_server: Any, page: Any, screenshot: Any, grading_worker: Any
) -> None:
    bank = make_bank()
    owner = UserFactory(username="hr_zhao", roles=["hr"])
    assessment = assessment_create(
        owner=owner,
        title="限时小测",
        question_ids=[bank["sft"].pk, bank["others"][0].pk],
        time_limit_minutes=1,
        pass_score=60,
    )
    invitation, token = invitation_create(
        assessment=assessment, candidate_name="王五", candidate_email="wangwu@example.com", created_by=owner
    )
    page.goto(f"{live_server.url}/take/{token}/")
    page.click("text=开始测评")
    first = f"#answer-{bank['sft'].pk}"
    page.fill(first, GOOD_ANSWER)
    page.wait_for_selector(f"#saved-{bank['sft'].pk} >> text=保存")
    # Jump the clock: four seconds left on the server; the page follows the server's time.
    Invitation.objects.filter(pk=invitation.pk).update(started_at=timezone.now() - timedelta(seconds=56))
    page.reload()
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^00:0[0-4]$"))
    page.wait_for_selector("text=时间到", timeout=15_000)  # the page reloads into the time-up page
    assert "1 个回答" in page.inner_text("main")
    screenshot(page, "13-take-time-up")
    page.click("#submit-all")
    page.wait_for_selector("text=你的答案已提交")
    assert list(Attempt.objects.filter(invitation=invitation).values_list("answer", flat=True)) == [GOOD_ANSWER]
