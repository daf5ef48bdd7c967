"""``manage.py import_questions``: output, idempotency, new versions from a changed file, bad input."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from questions import importing
from questions.models import Question, ReferenceAnswerVersion, Topic
from questions.services import reference_version_approve
from tests.factories import UserFactory

SEED = Path(settings.BASE_DIR) / "questions" / "data" / "seed_llm_interview.txt"
Status = ReferenceAnswerVersion.Status
SFT_LINE = "SFT和LLM性能: SFT（Sparse Feature Training）"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stdout: io.StringIO | None = None) -> tuple[str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    call_command("import_questions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def database_state() -> tuple[list, list, list]:
    return (
        list(Topic.objects.values_list("id", "slug", "name", "updated_at")),
        list(Question.objects.values_list("id", "title", "number", "search_document", "updated_at")),
        list(ReferenceAnswerVersion.objects.values_list("id", "number", "status", "body", "updated_at")),
    )


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    path = tmp_path / "seed_llm_interview.txt"
    path.write_bytes(SEED.read_bytes())
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.django_db
def test_default_path_imports_the_shipped_seed_and_reports_per_topic_and_total() -> None:
    out, err = run()

    assert "Imported seed_llm_interview.txt:" in out
    assert (
        "大模型（LLMs）进阶面 [大模型llms进阶面] (new topic): 4 created, 0 updated (new versions), 0 unchanged" in out
    )
    assert "[大模型llms进阶面-2] (new topic): 7 created" in out
    assert "[大模型llms微调面] (new topic): 23 created" in out
    assert "Total: 34 created, 0 updated (new versions), 0 unchanged." in out
    assert "warning: line 153: dropped a line that only repeats the end of the line before" in err
    assert "warning: line 89: closed an unclosed **" in err
    assert "Importing" not in out  # no progress bar when stdout is not a terminal
    assert Question.objects.count() == 34


@pytest.mark.django_db
def test_second_run_creates_nothing_and_says_unchanged() -> None:
    run()
    before = database_state()

    out, _err = run()

    assert "Total: 0 created, 0 updated (new versions), 34 unchanged." in out
    assert "(topic): 0 created, 0 updated (new versions), 4 unchanged" in out
    assert database_state() == before


@pytest.mark.django_db
def test_progress_bar_on_a_terminal_only() -> None:
    out, _err = run(stdout=Terminal())

    assert "Importing" in out and "34/34" in out


@pytest.mark.django_db
def test_verbosity_zero_is_silent_and_two_lists_questions(seed_copy: Path) -> None:
    out, err = run(str(seed_copy), "--verbosity", "0")
    assert out == err == ""

    edit(seed_copy, SFT_LINE, "SFT和LLM性能: SFT（Supervised Fine-Tuning）")
    out, _err = run(str(seed_copy), "-v", "2")
    assert "new version 2 v2 published, supersedes v1: SFT和LLM性能" in out
    assert "unchanged 1 " not in out  # unchanged questions only at -v3


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_says_what_would_happen(seed_copy: Path) -> None:
    out, _err = run(str(seed_copy), "--dry-run")
    assert "Dry run, nothing written. Would import seed_llm_interview.txt:" in out
    assert "Total: 34 created" in out
    assert Topic.objects.count() == Question.objects.count() == ReferenceAnswerVersion.objects.count() == 0

    run(str(seed_copy))
    edit(seed_copy, SFT_LINE, "SFT和LLM性能: SFT（Supervised Fine-Tuning）")
    before = database_state()
    out, _err = run(str(seed_copy), "--dry-run")
    assert "Total: 0 created, 1 updated (new versions), 33 unchanged." in out
    assert database_state() == before


@pytest.mark.django_db
def test_changed_answer_becomes_a_new_published_version_superseding_the_import(seed_copy: Path) -> None:
    run(str(seed_copy))
    question = Question.objects.get(topic__slug="大模型llms微调面", number="2")
    edit(seed_copy, SFT_LINE, "SFT和LLM性能: SFT（Supervised Fine-Tuning，监督微调）")
    edit(seed_copy, "## 3. 涌现能力是啥原因？", "## 3. 涌现能力的原因是什么？")

    out, _err = run(str(seed_copy))

    assert "Total: 0 created, 1 updated (new versions), 33 unchanged." in out
    v1, v2 = question.versions.order_by("number")
    assert (v1.status, v2.status, v2.number, v2.based_on, v2.author) == (
        Status.SUPERSEDED,
        Status.PUBLISHED,
        2,
        v1,
        None,
    )
    assert "Supervised Fine-Tuning，监督微调" in v2.body and "Sparse" not in v2.body
    assert v2.change_note == "导入自 seed_llm_interview.txt 第 121 行" and v2.published_at
    question.refresh_from_db()
    assert "supervised" in question.search_document and "sparse" not in question.search_document
    retitled = Question.objects.get(topic__slug="大模型llms进阶面", number="3")
    assert retitled.title == "涌现能力的原因是什么？" and "涌现能力的原因是什么" in retitled.search_document
    assert retitled.versions.count() == 1  # a title is not a new version

    out, _err = run(str(seed_copy))
    assert "Total: 0 created, 0 updated (new versions), 34 unchanged." in out
    assert ReferenceAnswerVersion.objects.count() == 35


@pytest.mark.django_db
def test_changed_answer_waits_in_review_when_an_expert_correction_is_published(seed_copy: Path) -> None:
    run(str(seed_copy))
    question = Question.objects.get(topic__slug="大模型llms微调面", number="2")
    v1 = question.versions.get()
    expert = UserFactory(username="expert_sft", roles=["expert"])
    v1.status = Status.SUPERSEDED
    v1.save()
    v2 = ReferenceAnswerVersion.objects.create(
        question=question,
        number=2,
        body="SFT 是监督微调（Supervised Fine-Tuning）。",
        status=Status.PUBLISHED,
        author=expert,
        change_note="更正 SFT 的全称",
        based_on=v1,
        published_at=timezone.now(),
    )
    edit(seed_copy, SFT_LINE, "SFT和LLM性能: SFT（Sparse Feature Training，稀疏特征训练）")

    out, _err = run(str(seed_copy))

    assert "Total: 0 created, 1 updated (new versions), 33 unchanged; 1 new version waits in review" in out
    assert "new version 2 v3 left in review: an expert's v2 is published, a reviewer decides" in out
    v2.refresh_from_db()
    v3 = question.versions.get(number=3)
    assert (v2.status, v3.status, v3.based_on, v3.published_at) == (Status.PUBLISHED, Status.IN_REVIEW, v2, None)
    question.refresh_from_db()
    assert "稀疏特征训练" not in question.search_document  # the published answer did not change

    out, _err = run(str(seed_copy))
    assert "34 unchanged" in out and question.versions.count() == 3

    # The reviewer's decision goes through the ordinary workflow.
    reviewer = UserFactory(username="reviewer_sft", roles=["reviewer"])
    reference_version_approve(version=v3, reviewer=reviewer)
    v2.refresh_from_db()
    assert v2.status == Status.SUPERSEDED


@pytest.mark.django_db
def test_an_answer_edited_back_to_an_older_text_is_still_a_new_version(seed_copy: Path) -> None:
    run(str(seed_copy))
    original = seed_copy.read_text(encoding="utf-8")
    edit(seed_copy, SFT_LINE, "SFT和LLM性能: SFT（Supervised Fine-Tuning）")
    run(str(seed_copy))
    seed_copy.write_text(original, encoding="utf-8")

    out, _err = run(str(seed_copy))

    assert "1 updated" in out
    question = Question.objects.get(topic__slug="大模型llms微调面", number="2")
    assert list(question.versions.order_by("number").values_list("number", "status")) == [
        (1, Status.SUPERSEDED),
        (2, Status.SUPERSEDED),
        (3, Status.PUBLISHED),
    ]


@pytest.mark.django_db
def test_new_question_in_a_changed_file_is_created(seed_copy: Path) -> None:
    run(str(seed_copy))
    seed_copy.write_text(seed_copy.read_text(encoding="utf-8") + "\n新增问题: 新增的回答。\n", encoding="utf-8")

    out, _err = run(str(seed_copy))

    assert "[大模型llms微调面] (topic): 1 created, 0 updated (new versions), 23 unchanged" in out
    assert Question.objects.get(topic__slug="大模型llms微调面", number="24").title == "新增问题"


# --- Bad input ------------------------------------------------------------------------------------


BAD_INPUTS = {
    "missing": (None, "no such file"),
    "directory": ("dir", "is a directory"),
    "not utf-8": ("谁说大模型只会复读？".encode("gbk"), "not UTF-8 text"),
    "utf-16": ("# 标题\n## 1. 问\n答。".encode("utf-16"), "UTF-16 text, not UTF-8"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    "empty": (b"", "the file is empty"),
    "blank": (b" \n\r\n\t\n", "the file is empty"),
    "no questions": ("一段没有问题的文字。\n\n另一段，也没有。\n".encode(), "no recognisable questions"),
    "headings only": (b"# A\n## 1. B\n## 2. C\n", "no recognisable questions"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_error_and_leaves_the_database_untouched(case: str, tmp_path: Path) -> None:
    content, reason = BAD_INPUTS[case]
    path = tmp_path / "input.md"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    run()
    before = database_state()

    with pytest.raises(CommandError) as error:
        run(str(path))

    message = str(error.value)
    assert reason in message and str(path) in message and "\n" not in message
    assert database_state() == before


@pytest.mark.django_db
def test_a_failure_midway_rolls_back_every_write(seed_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    applied = []
    original = importing._question_apply

    def failing(plan, topic, file_name):
        if len(applied) == 20:
            Question(topic=topic, number="x", title="").full_clean()  # raises ValidationError
        applied.append(plan)
        return original(plan, topic, file_name)

    monkeypatch.setattr(importing, "_question_apply", failing)

    with pytest.raises(CommandError, match="refused, nothing imported: title"):
        run(str(seed_copy))

    assert len(applied) == 20
    assert Topic.objects.count() == Question.objects.count() == ReferenceAnswerVersion.objects.count() == 0


def test_exit_status_and_message_from_the_command_line(tmp_path: Path) -> None:
    """The real process: status 1 and one line on stderr (checked before the database is used)."""
    missing = tmp_path / "missing.md"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "interview_platform.settings_test"}

    result = subprocess.run(
        [sys.executable, "manage.py", "import_questions", str(missing)],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == f"CommandError: {missing}: no such file"
    assert result.stdout == ""


@pytest.mark.django_db
def test_questions_missing_from_the_file_are_reported_and_kept(seed_copy: Path) -> None:
    run(str(seed_copy))
    lines = seed_copy.read_text(encoding="utf-8").split("\n")
    seed_copy.write_text("\n".join(lines[:161]) + "\n", encoding="utf-8")  # drops 微调面 22 and 23

    out, _err = run(str(seed_copy))

    assert "not in the file, left as they are: 22, 23" in out
    assert "[大模型llms微调面] (topic): 0 created, 0 updated (new versions), 21 unchanged" in out
    assert Question.objects.filter(topic__slug="大模型llms微调面").count() == 23
