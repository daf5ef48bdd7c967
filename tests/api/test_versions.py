"""Reference versions over the API: base_version and 409, submit, four-eyes approval, reject; errata."""

from __future__ import annotations

import pytest

from questions.models import Erratum, ReferenceAnswerVersion

pytestmark = pytest.mark.django_db

CONTENT = {
    "body": "SFT（Supervised Fine-Tuning，监督微调）是在预训练模型上用标注的指令-回答对继续训练。",
    "key_points": ["SFT 是监督微调", "使用标注的指令-回答数据", "在预训练模型的基础上继续训练"],
    "misconceptions": ["SFT 是稀疏特征训练（Sparse Feature Training）"],
    "change_note": "纠正 SFT 的全称。",
}


@pytest.fixture
def question(seed_questions):
    return seed_questions["大模型llms微调面/2"]


def _propose(client, question, base_version=1, **extra):
    return client.post(
        f"/api/v1/questions/{question.pk}/versions/", {**CONTENT, "base_version": base_version, **extra}, format="json"
    )


def test_expert_proposes_reviewer_approves_and_it_is_published(expert, reviewer, api_client, question) -> None:
    response = _propose(api_client(expert), question, submit=True)
    assert response.status_code == 201, response.json()
    version = response.json()
    assert version["number"] == 2 and version["status"] == "in_review" and version["based_on"] == 1
    assert version["author"] == expert.username

    approved = api_client(reviewer).post(f"/api/v1/versions/{version['id']}/approve/", {"comment": "好"})
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "published" and approved.json()["reviewer"] == reviewer.username
    assert question.versions.get(number=1).status == "superseded"
    listed = api_client(expert).get(f"/api/v1/questions/{question.pk}/versions/").json()["results"]
    assert [(row["number"], row["status"]) for row in listed] == [(2, "published"), (1, "superseded")]
    reference = api_client(expert).get(f"/api/v1/questions/{question.pk}/").json()["reference"]
    assert reference["number"] == 2 and "Supervised" in reference["body"]


def test_stale_base_version_is_409_with_the_current_number(expert, make_user, api_client, question) -> None:
    other_expert = make_user("expert_b", roles=("expert",))
    assert _propose(api_client(other_expert), question).status_code == 201  # now v2 exists
    response = _propose(api_client(expert), question, base_version=1)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale_version" and body["current_version"] == 2
    assert question.versions.count() == 2


def test_draft_then_submit_then_reject_with_comment(expert, reviewer, api_client, question) -> None:
    draft = _propose(api_client(expert), question).json()
    assert draft["status"] == "draft"
    edited = api_client(expert).put(
        f"/api/v1/versions/{draft['id']}/", {**CONTENT, "body": "改过的答案。"}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["body"] == "改过的答案。"
    assert api_client(expert).post(f"/api/v1/versions/{draft['id']}/submit/").json()["status"] == "in_review"
    no_comment = api_client(reviewer).post(f"/api/v1/versions/{draft['id']}/reject/", {})
    assert no_comment.status_code == 400 and "comment" in no_comment.json()["errors"]
    rejected = api_client(reviewer).post(f"/api/v1/versions/{draft['id']}/reject/", {"comment": "证据不足"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["review_comment"] == "证据不足"
    again = api_client(reviewer).post(f"/api/v1/versions/{draft['id']}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


def test_nobody_approves_their_own_version(reviewer, admin_user, api_client, question) -> None:
    for author in (reviewer, admin_user):
        version = ReferenceAnswerVersion.objects.filter(question=question).order_by("-number").first()
        created = _propose(api_client(author), question, base_version=version.number, submit=True)
        assert created.status_code == 201, created.json()
        response = api_client(author).post(f"/api/v1/versions/{created.json()['id']}/approve/")
        assert response.status_code == 403 and response.json()["code"] == "four_eyes"
        rejected = api_client(author).post(f"/api/v1/versions/{created.json()['id']}/reject/", {"comment": "x"})
        assert rejected.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key_points": "one"}, "key_points"),
        ({"key_points": ["only one"]}, "key_points"),
        ({"body": ""}, "body"),
        ({"change_note": ""}, "change_note"),
        ({"base_version": "two"}, "base_version"),
        ({"body": 42}, "body"),
    ],
)
def test_bad_versions_answer_400(expert, api_client, question, change, field) -> None:
    response = api_client(expert).post(
        f"/api/v1/questions/{question.pk}/versions/", {**CONTENT, "base_version": 1, **change}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert question.versions.count() == 1


def test_unknown_question_or_version_is_404(expert, reviewer, api_client, db) -> None:
    assert api_client(expert).get("/api/v1/questions/999999/versions/").status_code == 404
    assert api_client(expert).post("/api/v1/questions/999999/versions/", CONTENT, format="json").status_code == 404
    assert api_client(reviewer).post("/api/v1/versions/999999/approve/").status_code == 404


# --- Errata ----------------------------------------------------------------------------


def test_trainee_reports_an_error_and_follows_its_outcome(trainee, other_trainee, expert, api_client, question):
    client = api_client(trainee)
    report = {"quote": "SFT（Sparse Feature Training）", "explanation": "SFT 是 Supervised Fine-Tuning。"}
    created = client.post(f"/api/v1/questions/{question.pk}/errata/", report)
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "open" and created.json()["version"] == 1
    duplicate = client.post(f"/api/v1/questions/{question.pk}/errata/", report)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate"
    assert api_client(other_trainee).get("/api/v1/errata/").json()["count"] == 0
    assert api_client(expert).get("/api/v1/errata/").json()["count"] == 1

    expert_client = api_client(expert)
    fix = _propose(expert_client, question, submit=True).json()
    resolved = expert_client.post(
        f"/api/v1/errata/{created.json()['id']}/resolve/", {"status": "fixed", "fixed_in": fix["number"]}
    )
    assert resolved.status_code == 200, resolved.json()
    mine = client.get("/api/v1/errata/").json()["results"]
    assert mine[0]["status"] == "fixed" and mine[0]["fixed_in"] == 2
    assert Erratum.objects.get().resolved_by == expert


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"explanation": "because it is wrong"}, "quote"),
        ({"quote": "x", "explanation": ""}, "explanation"),
        ({"quote": "x", "explanation": "long enough", "severity": "fatal"}, "severity"),
    ],
)
def test_bad_error_reports_answer_400(trainee, api_client, question, payload, field) -> None:
    response = api_client(trainee).post(f"/api/v1/questions/{question.pk}/errata/", payload)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_trainee_cannot_resolve_reports(trainee, api_client, question) -> None:
    api_client(trainee).post(
        f"/api/v1/questions/{question.pk}/errata/", {"quote": "SFT", "explanation": "SFT 是监督微调。"}
    )
    erratum = Erratum.objects.get()
    response = api_client(trainee).post(f"/api/v1/errata/{erratum.pk}/resolve/", {"status": "rejected", "note": "x"})
    assert response.status_code == 403
