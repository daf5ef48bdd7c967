"""The curation admin: who reaches it, the pages (list, change, history, compare) and the workflow actions."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from questions import services
from questions.models import Erratum, Question, ReferenceAnswerVersion
from tests.factories import ErratumFactory, PublishedQuestionFactory, TopicFactory

pytestmark = pytest.mark.django_db

Status = ReferenceAnswerVersion.Status
LIST_URL = "/admin/questions/question/"
POINTS = "SFT 是监督微调（Supervised Fine-Tuning）\n- 使用标注的指令-回答对\n在预训练模型之上继续训练"


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages are asserted in their English msgids; the Chinese catalogue is the portal's."""
    settings.LANGUAGE_CODE = "en"


def _question_url(question: Question, suffix: str = "change/") -> str:
    return f"/admin/questions/question/{question.pk}/{suffix}"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _submitted(question: Question, author: object, body: str = "SFT 是监督微调。") -> ReferenceAnswerVersion:
    version = services.reference_version_create(
        question=question,
        author=author,
        body=body,
        key_points=["要点一", "要点二", "要点三"],
        misconceptions=[],
        change_note="更正",
        base_version=question.versions.order_by("-number").first().number,
    )
    return services.reference_version_submit(version=version, actor=author)


# --- Who reaches curation ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["expert", "reviewer", "admin_user"])
def test_staff_curators_reach_every_page(request, login, persona):
    user = request.getfixturevalue(persona)
    question = PublishedQuestionFactory()
    erratum = ErratumFactory(question=question)
    client = login(user)
    for url in [
        LIST_URL,
        _question_url(question),
        _question_url(question, "history/"),
        _question_url(question, "compare/"),
        _question_url(question, "versions/1/"),
        _question_url(question, "versions/new/"),
        "/admin/questions/erratum/",
        f"/admin/questions/erratum/{erratum.pk}/change/",
        "/admin/questions/referenceanswerversion/",
    ]:
        assert client.get(url).status_code == 200, url


def test_anonymous_and_trainees_are_sent_to_login(client, login, trainee):
    question = PublishedQuestionFactory()
    for url in [LIST_URL, _question_url(question), _question_url(question, "compare/")]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        response = login(trainee).get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_a_curation_role_is_refused(login, make_user):
    hr_staff = make_user("hr_staff", roles=("hr",), is_staff=True)
    question = PublishedQuestionFactory()
    client = login(hr_staff)
    assert client.get(LIST_URL).status_code == 403
    assert client.get(_question_url(question)).status_code == 403
    assert client.get(_question_url(question, "compare/")).status_code == 403
    assert client.post(_question_url(question, "versions/new/"), {"body": "x"}).status_code == 403
    assert "questions" not in client.get("/admin/").content.decode()


# --- The list ---------------------------------------------------------------------------------


def test_list_shows_topic_status_published_version_and_open_reports(login, expert):
    topic = TopicFactory(name="微调面")
    question = PublishedQuestionFactory(topic=topic, title="什么是 SFT？")
    ErratumFactory.create_batch(2, question=question)
    ErratumFactory(question=question, status=Erratum.Status.REJECTED, resolution_note="不是错误")
    response = login(expert).get(LIST_URL)
    row = next(r for r in response.context["cl"].result_list if r.pk == question.pk)
    assert (row.published_number, row.open_errata_count, row.in_review_count) == (1, 2, 0)
    html = response.content.decode()
    assert "微调面" in html and "v1" in html and "什么是 SFT？" in html


def test_list_makes_a_constant_number_of_queries(login, expert):
    client = login(expert)
    for _ in range(3):
        ErratumFactory(question=PublishedQuestionFactory())
    client.get(LIST_URL)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST_URL).status_code == 200
    for _ in range(12):
        ErratumFactory(question=PublishedQuestionFactory())
    with CaptureQueriesContext(connection) as many:
        assert client.get(LIST_URL).status_code == 200
    assert len(many) == len(few)


def test_list_filters_open_reports_and_review_state(login, expert, reviewer):
    reported = PublishedQuestionFactory()
    ErratumFactory(question=reported)
    waiting = PublishedQuestionFactory()
    _submitted(waiting, expert)
    quiet = PublishedQuestionFactory()
    client = login(reviewer)
    ids = lambda response: {q.pk for q in response.context["cl"].result_list}  # noqa: E731
    assert ids(client.get(LIST_URL + "?open_reports=yes")) == {reported.pk}
    assert ids(client.get(LIST_URL + "?curation=in_review")) == {waiting.pk}
    assert quiet.pk in ids(client.get(LIST_URL + "?open_reports=no"))


def test_search_works_on_chinese_text(login, expert):
    wanted = PublishedQuestionFactory(title="大模型的复读机问题是什么？")
    services.question_search_document_refresh(question=wanted, published=wanted.versions.get())
    other = PublishedQuestionFactory(title="LoRA 的秩如何选择？")
    services.question_search_document_refresh(question=other, published=None)
    response = login(expert).get(LIST_URL, {"q": "复读机"})
    assert [q.pk for q in response.context["cl"].result_list] == [wanted.pk]
    response = login(expert).get(LIST_URL, {"q": "监督微调 训练"})  # words of the published answer
    assert [q.pk for q in response.context["cl"].result_list] == [wanted.pk]


# --- The question page --------------------------------------------------------------------------


def test_question_page_shows_published_answer_rubric_and_history(login, expert, reviewer):
    question = PublishedQuestionFactory()
    question.versions.filter(number=1).update(body="**SFT** 是监督微调。<script>alert(1)</script>")
    _submitted(question, expert)
    html = login(reviewer).get(_question_url(question)).content.decode()
    assert "<strong>SFT</strong> 是监督微调。" in html
    assert "<script>alert(1)" not in html
    assert "使用人工标注的指令-回答数据" in html  # a key point of v1
    assert "SFT 是稀疏特征训练（Sparse Feature Training）" in html  # its misconception
    assert 'id="version-2"' in html and "expert_a" in html and "更正" in html
    assert "Approve and publish" in html  # the reviewer may approve expert_a's version


def test_author_sees_no_approve_button_on_own_version(login, make_user):
    senior = make_user("senior", roles=("expert", "reviewer"), is_staff=True)
    question = PublishedQuestionFactory()
    _submitted(question, senior)
    html = login(senior).get(_question_url(question)).content.decode()
    assert "Approve and publish" not in html and "awaiting another reviewer" in html


def test_new_version_is_prefilled_and_saved_with_a_log_entry(login, expert):
    question = PublishedQuestionFactory()
    client = login(expert)
    form = client.get(_question_url(question, "versions/new/")).context["form"]
    assert form.initial["base_version"] == 1
    assert form.initial["body"] == question.versions.get().body
    response = client.post(
        _question_url(question, "versions/new/"),
        {"base_version": 1, "body": "新的参考答案", "key_points": POINTS, "misconceptions": "", "change_note": "重写"},
    )
    assert response.status_code == 302
    version = question.versions.get(number=2)
    assert (version.status, version.author, version.key_points[1]) == (Status.DRAFT, expert, "使用标注的指令-回答对")
    assert LogEntry.objects.filter(object_id=str(question.pk), change_message__contains="v2").exists()


def test_new_version_requires_change_note_and_valid_rubric(login, expert):
    question = PublishedQuestionFactory()
    response = login(expert).post(
        _question_url(question, "versions/new/"),
        {"base_version": 1, "body": "答案", "key_points": "只有一个要点", "change_note": "改"},
    )
    assert response.status_code == 400
    assert "key_points" in response.context["form"].errors
    response = login(expert).post(
        _question_url(question, "versions/new/"), {"base_version": 1, "body": "答案", "key_points": POINTS}
    )
    assert "change_note" in response.context["form"].errors
    assert question.versions.count() == 1


def test_second_concurrent_edit_is_refused_with_a_clear_message(login, expert, make_user):
    question = PublishedQuestionFactory()
    other = make_user("expert_b", roles=("expert",), is_staff=True)
    first, second = login(expert), login(other)
    first.get(_question_url(question, "versions/new/"))
    second.get(_question_url(question, "versions/new/"))  # both opened the form at v1
    data = {"base_version": 1, "key_points": POINTS, "change_note": "修订"}
    assert first.post(_question_url(question, "versions/new/"), {**data, "body": "第一位专家的版本"}).status_code == 302
    response = second.post(_question_url(question, "versions/new/"), {**data, "body": "第二位专家的版本"})
    assert response.status_code == 409
    assert any("latest version is now v2" in message for message in _messages(response))
    assert response.context["form"].data["body"] == "第二位专家的版本"  # their text is not lost
    assert list(question.versions.values_list("body", flat=True).order_by("number"))[1] == "第一位专家的版本"
    assert question.versions.count() == 2
    html = response.content.decode()
    assert 'id="stale-warning"' in html and "compare/?a=1&amp;b=2" in html
    # Having seen the warning, saving again is a deliberate new version on top of v2.
    assert response.context["form"].data["base_version"] == "2"
    again = second.post(_question_url(question, "versions/new/"), response.context["form"].data)
    assert again.status_code == 302
    v3 = question.versions.get(number=3)
    assert (v3.body, v3.based_on.number, v3.author) == ("第二位专家的版本", 2, other)


def test_submit_approve_and_four_eyes_through_the_admin(login, expert, reviewer, make_user):
    question = PublishedQuestionFactory()
    version = services.reference_version_create(
        question=question,
        author=expert,
        body="SFT 是监督微调。",
        key_points=["一", "二", "三"],
        misconceptions=[],
        change_note="更正",
        base_version=1,
    )
    author_client = login(expert)
    assert author_client.post(_question_url(question, "versions/2/submit/")).status_code == 302
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW
    response = author_client.post(_question_url(question, "versions/2/approve/"), follow=True)
    assert any("Only reviewers" in message for message in _messages(response))
    response = login(reviewer).post(_question_url(question, "versions/2/approve/"), {"comment": "准确"}, follow=True)
    assert any("v2 is published" in message for message in _messages(response))
    version.refresh_from_db()
    assert (version.status, version.reviewer, version.review_comment) == (Status.PUBLISHED, reviewer, "准确")
    assert question.versions.get(number=1).status == Status.SUPERSEDED

    senior = make_user("senior", roles=("expert", "reviewer"), is_staff=True)
    _submitted(question, senior)
    response = login(senior).post(_question_url(question, "versions/3/approve/"), follow=True)
    assert any("four-eyes" in message for message in _messages(response))
    assert question.versions.get(number=3).status == Status.IN_REVIEW


def test_reject_requires_a_comment(login, expert, reviewer):
    question = PublishedQuestionFactory()
    _submitted(question, expert)
    client = login(reviewer)
    assert client.get(_question_url(question, "versions/2/reject/")).status_code == 200
    response = client.post(_question_url(question, "versions/2/reject/"), {"comment": ""})
    assert response.status_code == 400
    assert question.versions.get(number=2).status == Status.IN_REVIEW
    assert client.post(_question_url(question, "versions/2/reject/"), {"comment": "要点不全"}).status_code == 302
    version = question.versions.get(number=2)
    assert (version.status, version.review_comment) == (Status.REJECTED, "要点不全")


def test_submitted_version_cannot_be_edited_in_the_admin(login, expert):
    question = PublishedQuestionFactory()
    _submitted(question, expert, body="原文")
    response = login(expert).post(
        _question_url(question, "versions/2/edit/"), {"body": "偷偷改", "key_points": POINTS, "change_note": "x"}
    )
    assert response.status_code == 302
    assert question.versions.get(number=2).body == "原文"


def test_compare_shows_character_level_diff_side_by_side(login, expert, reviewer):
    question = PublishedQuestionFactory()
    question.versions.filter(number=1).update(body="SFT 是稀疏特征训练。", misconceptions=[])
    _submitted(question, expert, body="SFT 是监督微调。")
    response = login(reviewer).get(_question_url(question, "compare/"), {"a": 1, "b": 2})
    html = response.content.decode()
    assert "<del>稀疏特征训练</del>" in html and "<ins>监督微调</ins>" in html
    assert 'id="diff-key-points"' in html and "Empty in both versions." in html  # no misconceptions in either
    assert login(reviewer).get(_question_url(question, "compare/"), {"a": "x", "b": 99}).status_code == 200


def test_revert_creates_a_draft_copy(login, expert, reviewer):
    question = PublishedQuestionFactory()
    original = question.versions.get(number=1)
    services.reference_version_approve(version=_submitted(question, expert, body="改坏了"), reviewer=reviewer)
    client = login(expert)
    assert client.get(_question_url(question, "versions/1/revert/")).status_code == 200
    response = client.post(_question_url(question, "versions/1/revert/"), {"change_note": "回退到 v1"})
    assert response.status_code == 302
    draft = question.versions.get(number=3)
    assert (draft.status, draft.body, draft.based_on_id) == (Status.DRAFT, original.body, original.pk)


def test_history_page_lists_who_did_what(login, expert):
    question = PublishedQuestionFactory()
    client = login(expert)
    client.post(
        _question_url(question, "versions/new/"),
        {"base_version": 1, "body": "新答案", "key_points": POINTS, "change_note": "重写"},
    )
    html = client.get(_question_url(question, "history/")).content.decode()
    assert "Created reference version v2" in html and "expert_a" in html


# --- Error report triage ------------------------------------------------------------------------


def test_triage_marks_fixed_by_version_or_rejects_with_reason(login, expert, reviewer):
    question = PublishedQuestionFactory()
    erratum, other = ErratumFactory.create_batch(2, question=question)
    services.reference_version_approve(version=_submitted(question, expert), reviewer=reviewer)
    client = login(expert)
    resolve = reverse("admin:questions_erratum_resolve", args=[erratum.pk])
    response = client.post(resolve, {"status": "fixed", "fixed_in": 9}, follow=True)
    assert any("Name the version" in message for message in _messages(response))
    assert client.post(resolve, {"status": "fixed", "fixed_in": 2}).status_code == 302
    erratum.refresh_from_db()
    assert (erratum.status, erratum.fixed_in.number, erratum.resolved_by) == ("fixed", 2, expert)

    resolve_other = reverse("admin:questions_erratum_resolve", args=[other.pk])
    response = client.post(resolve_other, {"status": "rejected", "note": ""}, follow=True)
    assert any("Say why" in message for message in _messages(response))
    client.post(resolve_other, {"status": "rejected", "note": "原文没有这个说法"})
    other.refresh_from_db()
    assert (other.status, other.resolution_note) == ("rejected", "原文没有这个说法")
    assert services.erratum_list_for_reporter(user=other.reporter).get().status == "rejected"


def test_bulk_action_marks_fixed_by_the_published_version(login, expert, reviewer):
    question = PublishedQuestionFactory()
    erratum = ErratumFactory(question=question)
    stale_question = PublishedQuestionFactory()  # only the reported version is published
    stale = ErratumFactory(question=stale_question, version=stale_question.versions.get())
    services.reference_version_approve(version=_submitted(question, expert), reviewer=reviewer)
    response = login(expert).post(
        "/admin/questions/erratum/",
        {"action": "mark_fixed_by_published", "_selected_action": [erratum.pk, stale.pk]},
        follow=True,
    )
    erratum.refresh_from_db()
    stale.refresh_from_db()
    assert (erratum.status, erratum.fixed_in.number) == ("fixed", 2)
    assert stale.status == "open"
    assert any("must be newer" in message for message in _messages(response))


def test_error_report_list_flags_literal_quotes_in_constant_queries(login, expert, trainee):
    question = PublishedQuestionFactory()
    literal = services.erratum_report(question=question, reporter=trainee, quote="监督微调", explanation="定义不完整。")
    client = login(expert)
    with CaptureQueriesContext(connection) as few:
        response = client.get("/admin/questions/erratum/")
    assert 'alt="True"' in response.content.decode()  # the quote appears in the reported version
    for _ in range(6):
        ErratumFactory(question=PublishedQuestionFactory())
    with CaptureQueriesContext(connection) as many:
        assert client.get("/admin/questions/erratum/?status__exact=open").status_code == 200
    assert len(many) == len(few)
    page = client.get(f"/admin/questions/erratum/{literal.pk}/change/").content.decode()
    assert 'id="erratum-resolve"' in page and "The quote appears literally in the reported version." in page


def test_question_details_saved_meanwhile_by_someone_else_are_not_overwritten(login, expert, make_user):
    question = PublishedQuestionFactory(title="原标题")
    other = make_user("expert_b", roles=("expert",), is_staff=True)
    first, second = login(expert), login(other)
    form_first = first.get(_question_url(question)).context["adminform"].form
    form_second = second.get(_question_url(question)).context["adminform"].form

    def post(client, form, title: str):
        data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
        data.update(title=title, tags=[tag.pk for tag in question.tags.all()])
        return client.post(_question_url(question), data)

    assert post(first, form_first, "第一位专家改的标题").status_code == 302
    response = post(second, form_second, "第二位专家改的标题")
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "Someone else changed this question after you opened it" in errors and "expert_a" in errors
    question.refresh_from_db()
    assert question.title == "第一位专家改的标题"
    assert login(other).get(_question_url(question)).status_code == 200


def test_question_page_queries_do_not_grow_with_history(login, expert, reviewer, trainee):
    question = PublishedQuestionFactory()
    client = login(reviewer)
    client.get(_question_url(question))

    def add_round() -> None:
        version = _submitted(question, expert)
        services.reference_version_approve(version=version, reviewer=reviewer)
        services.erratum_report(
            question=question, reporter=trainee, quote=f"引文 {version.number}", explanation="这个说法不对。"
        )

    add_round()
    with CaptureQueriesContext(connection) as few:
        assert client.get(_question_url(question)).status_code == 200
    for _ in range(4):
        add_round()
    with CaptureQueriesContext(connection) as many:
        assert client.get(_question_url(question)).status_code == 200
    assert len(many) == len(few)
