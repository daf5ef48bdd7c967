"""The corrected bank shipped as data, and ``manage.py load_curated_bank`` that publishes it."""

from __future__ import annotations

import copy
import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from questions.management.commands.load_curated_bank import DEFAULT_PATH, bank_read
from questions.models import Erratum, Question, ReferenceAnswerVersion, Topic
from tests.factories import QuestionFactory, ReferenceAnswerVersionFactory, TopicFactory, UserFactory

Status = ReferenceAnswerVersion.Status
SEED_PATH = DEFAULT_PATH.parent / "seed_llm_interview.txt"
# "SFT = Sparse Feature Training" is the seed's signature error: it may survive only as a
# misconception to penalise, never in a published answer.
SPARSE_SFT = re.compile(r"sparse\s*feature\s*training|稀疏特征训练", re.IGNORECASE)

EXPECTED_KEYS = (
    [("大模型llms进阶面", str(number)) for number in range(1, 5)]
    + [("大模型llms进阶面-2", number) for number in ("1.1", "1.2", "1.3", "2", "3", "4", "5")]
    + [("大模型llms微调面", str(number)) for number in range(1, 24)]
)


def shipped() -> dict[str, Any]:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def load(path: Path | str | None = None, verbosity: int = 1) -> str:
    out = StringIO()
    call_command("load_curated_bank", *([str(path)] if path else []), stdout=out, verbosity=verbosity)
    return out.getvalue()


# --- The shipped file ----------------------------------------------------------------------


def test_shipped_bank_corrects_every_seed_question_once() -> None:
    bank = bank_read(DEFAULT_PATH)

    assert [(question.topic, question.number) for question in bank.questions] == EXPECTED_KEYS
    assert set(bank.topics) == {"大模型llms进阶面", "大模型llms进阶面-2", "大模型llms微调面"}
    assert all(name.isascii() and name for name in bank.topics.values())


def test_shipped_file_is_pretty_utf8_with_chinese_unescaped() -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")

    assert "监督微调" in text
    assert "\\u" not in text
    assert text.startswith('{\n  "format": 1,')


def test_no_corrected_answer_defines_sft_as_sparse_feature_training() -> None:
    bank = bank_read(DEFAULT_PATH)

    offending = [question.label for question in bank.questions if SPARSE_SFT.search(question.body)]
    assert offending == []
    # ...but the wrong definition is a misconception graders penalise wherever the seed made it.
    penalised = {question.label for question in bank.questions if any(map(SPARSE_SFT.search, question.misconceptions))}
    assert {"大模型llms微调面/2", "大模型llms微调面/19", "大模型llms微调面/20"} <= penalised
    sft_answers = [question for question in bank.questions if question.label in penalised]
    assert all("Supervised Fine-Tuning" in question.body for question in sft_answers)


def test_every_question_has_a_rubric_misconceptions_metadata_and_a_change_note() -> None:
    for question in bank_read(DEFAULT_PATH).questions:
        assert 3 <= len(question.key_points) <= 6, question.label
        assert question.misconceptions, question.label
        assert question.change_note and question.title_en.isascii(), question.label
        assert question.difficulty in {"easy", "medium", "hard"}
        assert 2 <= len(question.tags) <= 4, question.label


def test_errata_cover_the_seed_errors_with_severities() -> None:
    errata = [erratum for question in bank_read(DEFAULT_PATH).questions for erratum in question.errata]
    severities = [erratum.severity for erratum in errata]

    assert len(errata) >= 40
    assert severities.count("critical") >= 8
    quotes = {erratum.quote for erratum in errata}
    for wrong_definition in ("LLaMA（Language Model for Many Applications）", "SFT（Sparse Feature Training）"):
        assert any(wrong_definition in quote for quote in quotes), wrong_definition


def test_every_quote_is_verbatim_seed_text() -> None:
    seed = SEED_PATH.read_text(encoding="utf-8")

    missing = [
        (question.label, erratum.quote)
        for question in bank_read(DEFAULT_PATH).questions
        for erratum in question.errata
        if erratum.quote not in seed
    ]
    assert missing == []


# --- Loading onto a small bank built from factories ------------------------------------------

# Two of the shipped questions, on a bank whose version 1 holds the quoted seed claims.
MINI_KEYS = [("大模型llms微调面", "2"), ("大模型llms进阶面-2", "2")]


@pytest.fixture
def mini_bank(db: None, tmp_path: Path) -> Path:
    document = shipped()
    entries = [entry for entry in document["questions"] if (entry["topic"], entry["number"]) in MINI_KEYS]
    for entry in entries:
        topic = TopicFactory(slug=entry["topic"], name=entry["topic"], name_en="")
        question = QuestionFactory(topic=topic, number=entry["number"], title=entry["seed_title"], title_en="")
        body = "种子答案：\n\n" + "\n\n".join(erratum["quote"] for erratum in entry["errata"])
        ReferenceAnswerVersionFactory(
            question=question, number=1, body=body, key_points=[], misconceptions=[], status=Status.PUBLISHED
        )
    document["topics"] = [topic for topic in document["topics"] if topic["slug"] in {key[0] for key in MINI_KEYS}]
    document["questions"] = entries
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_publishes_a_reviewed_version_and_fixes_each_erratum(mini_bank: Path) -> None:
    output = load(mini_bank)

    question = Question.objects.get(topic__slug="大模型llms微调面", number="2")
    first, second = question.versions.order_by("number")
    assert (first.number, first.status) == (1, Status.SUPERSEDED)
    assert (second.number, second.status) == (2, Status.PUBLISHED)
    assert second.based_on == first and second.change_note
    assert second.author.username == "editorial" and second.reviewer.username == "editorial-review"
    assert second.submitted_at and second.published_at
    assert 3 <= len(second.key_points) <= 6 and second.misconceptions
    assert not SPARSE_SFT.search(second.body)
    assert question.title_en.startswith("Why can an LLM seem worse")
    assert {tag.slug for tag in question.tags.all()} == {"sft", "catastrophic-forgetting"}
    assert "supervised" in question.search_document.lower() or "监督" in question.search_document
    assert Topic.objects.get(slug="大模型llms微调面").name_en == "LLMs: Fine-Tuning Interview Questions"

    errata = list(question.errata.order_by("id"))
    assert [erratum.severity for erratum in errata] == ["critical", "major"]
    for erratum in errata:
        assert erratum.version == first and erratum.quote in first.body
        assert erratum.status == Erratum.Status.FIXED and erratum.fixed_in == second
        assert erratum.reporter.username == "editorial" and erratum.resolved_by.username == "editorial-review"
    assert "published 大模型llms微调面/2 v2 (2 errors fixed)" in output
    assert "2 corrected versions published, 6 error reports filed and fixed, 0 questions unchanged" in output


def test_second_run_changes_nothing(mini_bank: Path) -> None:
    load(mini_bank)
    snapshot = list(ReferenceAnswerVersion.objects.values_list("id", "status", "updated_at"))
    errata_before = Erratum.objects.count()

    output = load(mini_bank, verbosity=2)

    assert list(ReferenceAnswerVersion.objects.values_list("id", "status", "updated_at")) == snapshot
    assert Erratum.objects.count() == errata_before
    assert "0 corrected versions published" in output and "2 questions unchanged" in output
    assert "unchanged 大模型llms微调面/2: corrected version already present" in output


def test_an_experts_later_version_is_left_alone(mini_bank: Path, expert, reviewer) -> None:
    from questions import services

    load(mini_bank)
    question = Question.objects.get(topic__slug="大模型llms进阶面-2", number="2")
    third = services.reference_version_create(
        question=question,
        author=expert,
        base_version=2,
        body="专家的第三版。",
        key_points=["要点一", "要点二", "要点三"],
        misconceptions=[],
        change_note="补充 Llama 4。",
    )
    services.reference_version_submit(version=third, actor=expert)
    services.reference_version_approve(version=third, reviewer=reviewer)

    load(mini_bank)

    assert list(question.versions.order_by("number").values_list("number", "status")) == [
        (1, Status.SUPERSEDED),
        (2, Status.SUPERSEDED),
        (3, Status.PUBLISHED),
    ]


def test_system_accounts_hold_their_roles_and_cannot_sign_in(mini_bank: Path) -> None:
    load(mini_bank)
    users = get_user_model().objects

    editor, review = users.get(username="editorial"), users.get(username="editorial-review")
    assert list(editor.groups.values_list("name", flat=True)) == ["expert"]
    assert list(review.groups.values_list("name", flat=True)) == ["reviewer"]
    assert not editor.has_usable_password() and not review.has_usable_password()
    assert not Client().login(username="editorial", password="")


def _mutated(mini_bank: Path, change: Any) -> Path:
    document = json.loads(mini_bank.read_text(encoding="utf-8"))
    change(document)
    path = mini_bank.with_name("bad.json")
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(("questions", 0, "number"), "99"), "unknown question 大模型llms进阶面-2/99"),
        (_set(("questions", 0, "topic"), "no-such-topic"), "unknown topic no-such-topic"),
        (_set(("topics", 0, "slug"), "no-such-topic"), "unknown topic no-such-topic"),
        (_set(("questions", 0, "seed_title"), "全参数微调显存需求"), "seed title '全参数微调显存需求' does not match"),
        (_set(("questions", 0, "version", "key_points"), ["一", "二"]), "key_points must hold 3–6 statements"),
        (_set(("questions", 0, "version", "key_points"), ["一"] * 7), "key_points must hold 3–6 statements"),
        (_set(("questions", 0, "version", "misconceptions"), []), "misconceptions must not be empty"),
        (_set(("questions", 0, "version", "change_note"), "  "), "change_note must not be empty"),
        (_set(("questions", 0, "errata", 0, "quote"), "原文中没有的话"), "quote not found in version 1"),
        (_set(("questions", 0, "errata", 0, "severity"), "fatal"), "severity 'fatal' is not one of"),
        (_set(("questions", 0, "difficulty"), "expert"), "difficulty 'expert' is not one of"),
        (_set(("format",), 2), "unsupported format 2"),
        (lambda document: document["questions"].append(copy.deepcopy(document["questions"][0])), "listed twice"),
        (lambda document: document["questions"][0].pop("version"), "lacks version"),
    ],
)
def test_bad_files_are_refused_with_a_reason_and_nothing_written(mini_bank: Path, change: Any, message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        load(_mutated(mini_bank, change))

    assert ReferenceAnswerVersion.objects.filter(number__gt=1).count() == 0
    assert Erratum.objects.count() == 0
    assert Question.objects.exclude(title_en="").count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "is not valid JSON"), ("{}".encode("utf-16"), "is not UTF-8"), (b"[]", "must be an object")],
)
def test_unreadable_files_are_refused(tmp_path: Path, db: None, content: bytes, message: str) -> None:
    path = tmp_path / "bank.json"
    path.write_bytes(content)

    with pytest.raises(CommandError, match=message):
        load(path)
    with pytest.raises(CommandError, match="file not found"):
        load(tmp_path / "missing.json")


def test_a_refused_step_rolls_the_whole_run_back(mini_bank: Path) -> None:
    # An operator disabled the review account: the first approval is refused, nothing stays.
    UserFactory(username="editorial-review", is_active=False)

    with pytest.raises(CommandError, match=r"^refused: "):
        load(mini_bank)

    assert ReferenceAnswerVersion.objects.filter(number__gt=1).count() == 0
    assert Erratum.objects.count() == 0
    assert Question.objects.exclude(title_en="").count() == 0


# --- The shipped file on the imported seed -------------------------------------------------------


@pytest.mark.django_db
def test_shipped_corrections_on_the_imported_seed() -> None:
    call_command("import_questions", stdout=StringIO())
    output = load()

    questions = list(Question.objects.filter(status=Question.Status.ACTIVE).prefetch_related("versions", "errata"))
    assert len(questions) == len(EXPECTED_KEYS)
    for question in questions:
        versions = {version.number: version for version in question.versions.all()}
        published = [version for version in versions.values() if version.status == Status.PUBLISHED]
        assert len(published) == 1 and published[0].number == 2, question
        assert versions[1].status == Status.SUPERSEDED and versions[2].based_on == versions[1]
        assert 3 <= len(published[0].key_points) <= 6 and published[0].misconceptions
        assert not SPARSE_SFT.search(published[0].body), question
        assert question.title_en
        for erratum in question.errata.all():
            assert erratum.version == versions[1] and erratum.quote in versions[1].body
            assert erratum.status == Erratum.Status.FIXED and erratum.fixed_in == versions[2]
    errata = Erratum.objects.all()
    assert errata.count() >= 40 and errata.filter(severity="critical").count() >= 8
    assert f"{len(EXPECTED_KEYS)} corrected versions published" in output

    again = load()

    assert f"0 corrected versions published, 0 error reports filed and fixed, {len(EXPECTED_KEYS)}" in again
    assert ReferenceAnswerVersion.objects.count() == 2 * len(EXPECTED_KEYS)
