"""The reference-version workflow: immutability, four eyes, one published version, stale edits, revert."""

from __future__ import annotations

import pytest

from interview_platform.errors import ServiceError
from questions import services
from questions.models import Question, ReferenceAnswerVersion
from tests.factories import GradeFactory, PublishedQuestionFactory, ReferenceAnswerVersionFactory

pytestmark = pytest.mark.django_db

Status = ReferenceAnswerVersion.Status
POINTS = ["SFT 是监督微调（Supervised Fine-Tuning）", "使用标注的指令-回答对", "在预训练模型之上继续训练"]
BODY = "SFT（Supervised Fine-Tuning，监督微调）用人工标注的指令-回答对在预训练模型上继续训练。"


def _new(question: Question, author: object, base: int = 1, **overrides: object) -> ReferenceAnswerVersion:
    fields: dict[str, object] = {
        "question": question,
        "author": author,
        "body": BODY,
        "key_points": POINTS,
        "misconceptions": ["SFT 是稀疏特征训练"],
        "change_note": "更正 SFT 的定义",
        "base_version": base,
    }
    fields.update(overrides)
    return services.reference_version_create(**fields)


def _published(question: Question) -> list[int]:
    return list(question.versions.filter(status=Status.PUBLISHED).values_list("number", flat=True))


def test_create_numbers_from_latest_and_records_base(expert):
    question = PublishedQuestionFactory()
    version = _new(question, expert)
    assert (version.number, version.status, version.based_on.number, version.author) == (2, Status.DRAFT, 1, expert)


def test_stale_base_version_is_refused_with_409_and_current_number(expert, make_user):
    question = PublishedQuestionFactory()
    other = make_user("expert_b", roles=("expert",))
    _new(question, expert, base=1)
    with pytest.raises(ServiceError) as caught:
        _new(question, other, base=1, body="另一位专家同时写的版本")
    assert caught.value.code == "stale_version"
    assert caught.value.status_code == 409
    assert caught.value.extra == {"current_version": 2}
    assert question.versions.count() == 2
    assert not question.versions.filter(body="另一位专家同时写的版本").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"change_note": "  "}, "change_note"),
        ({"key_points": ["只有一个要点"]}, "key_points"),
        ({"key_points": [*POINTS, "4", "5", "6", "7"]}, "key_points"),
        ({"key_points": ["a", "", "c"]}, "key_points"),
        ({"key_points": []}, "key_points"),
        ({"misconceptions": "not a list"}, "misconceptions"),
        ({"body": ""}, "body"),
    ],
)
def test_bad_content_is_refused_per_field(expert, overrides, field):
    question = PublishedQuestionFactory()
    with pytest.raises(ServiceError) as caught:
        _new(question, expert, **overrides)
    assert field in caught.value.field_errors
    assert question.versions.count() == 1


def test_empty_key_points_allowed_only_for_a_first_version(expert):
    question = PublishedQuestionFactory()
    question.versions.all().delete()
    version = _new(question, expert, base=0, key_points=[])
    assert version.number == 1 and version.key_points == []


def test_trainee_cannot_create_or_approve(trainee, expert):
    question = PublishedQuestionFactory()
    with pytest.raises(ServiceError) as caught:
        _new(question, trainee)
    assert caught.value.status_code == 403
    version = services.reference_version_submit(version=_new(question, expert), actor=expert)
    with pytest.raises(ServiceError):
        services.reference_version_approve(version=version, reviewer=expert)  # an expert is not a reviewer


def test_draft_editable_by_author_only_and_frozen_after_submit(expert, make_user):
    question = PublishedQuestionFactory()
    version = _new(question, expert)
    other = make_user("expert_b", roles=("expert",))
    edit = {"body": "改过的答案", "key_points": POINTS, "misconceptions": [], "change_note": "改写"}
    with pytest.raises(ServiceError) as caught:
        services.reference_version_update_draft(version=version, actor=other, **edit)
    assert caught.value.status_code == 403
    services.reference_version_update_draft(version=version, actor=expert, **edit)
    version.refresh_from_db()
    assert version.body == "改过的答案"

    submitted = services.reference_version_submit(version=version, actor=expert)
    assert submitted.status == Status.IN_REVIEW and submitted.submitted_at is not None
    with pytest.raises(ServiceError) as caught:
        services.reference_version_update_draft(version=version, actor=expert, **{**edit, "body": "再改"})
    assert caught.value.code == "invalid_state"
    with pytest.raises(ServiceError):
        services.reference_version_submit(version=version, actor=expert)
    version.refresh_from_db()
    assert version.body == "改过的答案"


def test_four_eyes_author_never_approves_own_version(make_user):
    both = make_user("senior", roles=("expert", "reviewer"))
    question = PublishedQuestionFactory()
    version = services.reference_version_submit(version=_new(question, both), actor=both)
    with pytest.raises(ServiceError) as caught:
        services.reference_version_approve(version=version, reviewer=both)
    assert caught.value.code == "four_eyes"
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW


def test_approve_publishes_and_supersedes_in_one_step(expert, reviewer):
    question = PublishedQuestionFactory()
    version = services.reference_version_submit(version=_new(question, expert), actor=expert)
    approved = services.reference_version_approve(version=version, reviewer=reviewer, comment="好")
    assert approved.status == Status.PUBLISHED and approved.reviewer == reviewer and approved.published_at
    assert _published(question) == [2]
    assert question.versions.get(number=1).status == Status.SUPERSEDED
    question.refresh_from_db()
    assert "supervised" in question.search_document
    with pytest.raises(ServiceError):
        services.reference_version_approve(version=approved, reviewer=reviewer)
    assert _published(question) == [2]


def test_approve_reports_attempts_graded_against_superseded_versions(expert, reviewer):
    question = PublishedQuestionFactory()
    for _ in range(3):
        GradeFactory(attempt__question=question)
    version = services.reference_version_submit(version=_new(question, expert), actor=expert)
    approved = services.reference_version_approve(version=version, reviewer=reviewer)
    assert approved.superseded_attempt_count == 3


def test_an_older_version_cannot_replace_a_newer_published_one(expert, reviewer, make_user):
    question = PublishedQuestionFactory()
    v2 = services.reference_version_submit(version=_new(question, expert, base=1), actor=expert)
    v3 = services.reference_version_submit(version=_new(question, expert, base=2), actor=expert)
    services.reference_version_approve(version=v3, reviewer=reviewer)
    with pytest.raises(ServiceError) as caught:
        services.reference_version_approve(version=v2, reviewer=reviewer)
    assert caught.value.code == "stale_version"
    assert _published(question) == [3]


def test_reject_requires_comment_and_records_it(expert, reviewer):
    question = PublishedQuestionFactory()
    version = services.reference_version_submit(version=_new(question, expert), actor=expert)
    with pytest.raises(ServiceError) as caught:
        services.reference_version_reject(version=version, reviewer=reviewer, comment=" ")
    assert "comment" in caught.value.field_errors
    rejected = services.reference_version_reject(version=version, reviewer=reviewer, comment="要点重复")
    assert (rejected.status, rejected.review_comment, rejected.reviewer) == (Status.REJECTED, "要点重复", reviewer)
    assert _published(question) == [1]


def test_revert_copies_an_older_version_as_a_new_draft(expert, reviewer):
    question = PublishedQuestionFactory()
    original = question.versions.get(number=1)
    v2 = services.reference_version_submit(version=_new(question, expert, body="错误的新答案"), actor=expert)
    services.reference_version_approve(version=v2, reviewer=reviewer)
    reverted = services.reference_version_revert(question=question, to_version=1, author=expert, change_note="回退")
    assert (reverted.number, reverted.status, reverted.based_on_id) == (3, Status.DRAFT, original.pk)
    assert reverted.body == original.body and reverted.key_points == original.key_points
    assert list(question.versions.order_by("number").values_list("status", flat=True)) == [
        Status.SUPERSEDED,
        Status.PUBLISHED,
        Status.DRAFT,
    ]
    with pytest.raises(ServiceError):
        services.reference_version_revert(question=question, to_version=9, author=expert, change_note="x")
    with pytest.raises(ServiceError):
        services.reference_version_revert(question=question, to_version=1, author=expert, change_note="")


def test_database_allows_one_published_version_only():
    from django.db import IntegrityError, transaction

    question = PublishedQuestionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferenceAnswerVersionFactory(question=question, number=2, status=Status.PUBLISHED)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_saves_from_the_same_base_create_one_version(make_user):
    """Two experts press save at the same moment: the question's row lock lets one through."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises every write anyway)")
    question = PublishedQuestionFactory()
    authors = [make_user(f"expert_{n}", roles=("expert",)) for n in range(4)]
    barrier = threading.Barrier(len(authors))
    outcomes: list[str] = []

    def save(author: object) -> None:
        try:
            barrier.wait()
            _new(question, author, body=f"{author} 的版本")
            outcomes.append("created")
        except ServiceError as error:
            outcomes.append(error.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(author,)) for author in authors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "stale_version", "stale_version", "stale_version"]
    assert list(question.versions.values_list("number", flat=True).order_by("number")) == [1, 2]
