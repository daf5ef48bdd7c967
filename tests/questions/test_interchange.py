"""Export/import of the whole bank (lossless round trip), seed-shaped Markdown and Moodle XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from questions import services
from questions.interchange import bank_export
from questions.models import Erratum, Question, ReferenceAnswerVersion, Topic
from tests.factories import PublishedQuestionFactory, QuestionFactory, TagFactory, TopicFactory

Status = ReferenceAnswerVersion.Status


def _rich_bank(expert, reviewer, trainee) -> None:
    """Two topics, tags, a sub-question, every version status, fixed/rejected/open reports."""
    advanced = TopicFactory(slug="大模型llms进阶面", name="大模型（LLMs）进阶面", name_en="LLMs advanced", order=1)
    tuning = TopicFactory(slug="大模型llms微调面", name="大模型（LLMs）微调面", name_en="", order=2)
    sft, memory = TagFactory(slug="sft", name="SFT"), TagFactory(slug="显存", name="显存")
    parent = PublishedQuestionFactory(topic=advanced, number="1", order=1, title="LLMs 复读机问题", group="")
    child = PublishedQuestionFactory(
        topic=advanced, number="1.1", order=2, title="什么是复读机问题？", group="LLMs 复读机问题", parent=parent
    )
    child.tags.set([sft])
    question = PublishedQuestionFactory(
        topic=tuning, number="1", order=1, title="SFT 是什么？", source_file="seed.txt", source_line=121
    )
    question.tags.set([sft, memory])
    v1 = question.versions.get()
    erratum = services.erratum_report(
        question=question, reporter=trainee, quote="SFT（Supervised", explanation="应说明是监督微调，不是别的。"
    )
    rejected_report = services.erratum_report(
        question=question, reporter=trainee, quote="标注", explanation="我认为这里不对。", severity="minor"
    )
    services.erratum_report(question=child, reporter=trainee, quote="复读", explanation="描述不完整。")

    def new(body: str, base: int) -> ReferenceAnswerVersion:
        version = services.reference_version_create(
            question=question,
            author=expert,
            body=body,
            key_points=["SFT 是监督微调", "用标注的指令数据", "在预训练模型上继续训练"],
            misconceptions=["SFT 是稀疏特征训练"],
            change_note=f"修订 {base + 1}",
            base_version=base,
        )
        return services.reference_version_submit(version=version, actor=expert)

    v2 = services.reference_version_approve(version=new("# 定义\nSFT 是监督微调。\n\n- 要点", 1), reviewer=reviewer)
    services.reference_version_reject(version=new("草率的版本", 2), reviewer=reviewer, comment="不完整")
    new("待审核版本", 3)
    services.reference_version_revert(question=question, to_version=v1.number, author=expert, change_note="回退试验")
    services.erratum_resolve(erratum=erratum, actor=expert, status="fixed", fixed_in=v2, note="v2 已更正")
    services.erratum_resolve(erratum=rejected_report, actor=expert, status="rejected", note="原文没有问题")
    QuestionFactory(topic=tuning, number="2", order=2, title="没有版本的题", status="archived")


def _canonical(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "exported_at"}


@pytest.mark.django_db(transaction=True)
def test_export_flush_import_export_is_identical(tmp_path, make_user):
    expert = make_user("expert_a", roles=("expert",))
    reviewer = make_user("reviewer_a", roles=("reviewer",))
    trainee = make_user("trainee_a")
    _rich_bank(expert, reviewer, trainee)
    first = tmp_path / "bank.json"
    call_command("export_bank", str(first), stderr=StringIO())
    exported = json.loads(first.read_text(encoding="utf-8"))
    assert len(exported["questions"]) == 4
    sft = next(q for q in exported["questions"] if q["title"] == "SFT 是什么？")
    assert [v["status"] for v in sft["versions"]] == ["superseded", "published", "rejected", "in_review", "draft"]
    assert sft["versions"][1]["author"] == "expert_a" and sft["versions"][1]["reviewer"] == "reviewer_a"
    assert {e["status"] for e in sft["errata"]} == {"fixed", "rejected"}

    call_command("flush", interactive=False, verbosity=0)
    assert not Question.objects.exists() and not get_user_model().objects.exists()

    out = StringIO()
    call_command("import_bank", str(first), stdout=out)
    assert "Imported 4 questions" in out.getvalue()
    assert not get_user_model().objects.get(username="expert_a").is_active  # authorship kept, no login
    second = tmp_path / "again.json"
    call_command("export_bank", str(second), stderr=StringIO())
    assert _canonical(json.loads(second.read_text(encoding="utf-8"))) == _canonical(exported)
    imported = Question.objects.get(title="SFT 是什么？")
    assert imported.versions.get(status=Status.PUBLISHED).number == 2
    assert "监督" in imported.search_document


@pytest.mark.django_db
def test_import_refuses_existing_questions_unless_skipped(tmp_path, expert, reviewer, trainee):
    _rich_bank(expert, reviewer, trainee)
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(bank_export(), ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CommandError, match="already exist"):
        call_command("import_bank", str(path), stdout=StringIO())
    out = StringIO()
    call_command("import_bank", str(path), "--skip-existing", stdout=out)
    assert "0 questions (4 skipped)" in out.getvalue()
    assert Question.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(format="other"), "$.format"),
        (lambda d: d["questions"][0].update(topic="nope"), "unknown topic"),
        (lambda d: d["questions"][0]["versions"][0].update(status="live"), "status"),
        (lambda d: d["questions"][0]["versions"].append(dict(d["questions"][0]["versions"][0])), "duplicate version"),
        (lambda d: d["questions"][0]["versions"][0].update(created_at="yesterday"), "ISO 8601"),
        (lambda d: d["questions"][0].update(parent="99"), "no question"),
        (lambda d: d["questions"][0].update(title=""), "title: is required"),
    ],
)
def test_import_validates_everything_before_writing(tmp_path, mutate, expected):
    PublishedQuestionFactory(topic=TopicFactory(slug="t1"), number="1")
    document = bank_export()
    Question.objects.all().delete()
    Topic.objects.all().delete()
    mutate(document)
    document["questions"].append(dict(document["questions"][0], number="2", title="第二题"))  # a valid one too
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CommandError, match="Nothing imported") as caught:
        call_command("import_bank", str(path), stdout=StringIO())
    assert expected in str(caught.value)
    assert not Question.objects.exists() and not ReferenceAnswerVersion.objects.exists()


@pytest.mark.django_db
def test_import_reports_unreadable_files(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_bank", str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_bank", str(broken))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_bank", str(binary))


@pytest.mark.django_db
def test_markdown_export_has_the_seed_shape(tmp_path, expert, reviewer, trainee):
    _rich_bank(expert, reviewer, trainee)
    path = tmp_path / "bank.md"
    call_command("export_markdown", str(path))
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# 大模型（LLMs）进阶面"
    assert "## 1. LLMs 复读机问题" in lines and "### 1.1. 什么是复读机问题？" in lines
    assert "# 大模型（LLMs）微调面" in lines and "## 1. SFT 是什么？" in lines
    assert "   \\# 定义" in lines  # a heading inside an answer cannot become a question
    assert "没有版本的题" not in text  # archived, no version
    original = StringIO()
    call_command("export_markdown", "--original", stdout=original)
    assert "SFT（Supervised Fine-Tuning，监督微调）" in original.getvalue()  # version 1 bodies


@pytest.mark.django_db
def test_moodle_export_is_valid_xml_with_essays_and_grader_info(tmp_path, expert, reviewer, trainee):
    _rich_bank(expert, reviewer, trainee)
    path = tmp_path / "bank.xml"
    call_command("export_moodle", str(path))
    raw = path.read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    quiz = ET.fromstring(raw)  # noqa: S314 - our own output
    categories = [q.findtext("category/text") for q in quiz.findall("question[@type='category']")]
    assert categories == [
        "$course$/top/LLM 面试题库/大模型（LLMs）进阶面",
        "$course$/top/LLM 面试题库/大模型（LLMs）微调面",
    ]
    essays = quiz.findall("question[@type='essay']")
    assert len(essays) == 3
    sft = next(e for e in essays if e.findtext("name/text") == "1. SFT 是什么？")
    assert sft.find("graderinfo").get("format") == "html"
    info = sft.findtext("graderinfo/text")
    assert "<h1>定义</h1>" in info and "SFT 是监督微调" in info and "SFT 是稀疏特征训练" in info
    assert (
        sft.findtext("questiontext/text")
        == '<p>SFT 是什么？</p><p lang="en"><em>What is supervised fine-tuning (SFT)?</em></p>'
    )
    assert {t.findtext("text") for t in sft.findall("tags/tag")} == {"SFT", "显存"}


def test_export_to_a_missing_directory_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_moodle", str(Path(tmp_path) / "no" / "such" / "file.xml"))


@pytest.mark.django_db
def test_fixed_erratum_keeps_its_fixing_version_after_round_trip(expert, reviewer, trainee):
    _rich_bank(expert, reviewer, trainee)
    fixed = Erratum.objects.get(status="fixed")
    assert fixed.fixed_in.number == 2


@pytest.mark.django_db
def test_markdown_export_of_the_seed_reimports_identically(tmp_path):
    """Seed → import_questions → export_markdown --original → import_questions again: same bank."""
    call_command("import_questions", stdout=StringIO(), stderr=StringIO())

    def snapshot() -> dict[tuple[str, str], tuple[str, str, str]]:
        return {
            (q.topic.slug, q.number): (q.title, q.group, q.versions.get(number=1).body)
            for q in Question.objects.select_related("topic").prefetch_related("versions")
        }

    before = snapshot()
    assert len(before) > 30
    path = tmp_path / "bank.md"
    call_command("export_markdown", str(path), "--original")
    ReferenceAnswerVersion.objects.all().delete()
    Question.objects.all().delete()
    Topic.objects.all().delete()
    call_command("import_questions", str(path), stdout=StringIO(), stderr=StringIO())
    assert snapshot() == before
