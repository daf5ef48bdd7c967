"""``manage.py import_questions [PATH] [--dry-run]``: import a Markdown Q&A file into the bank.

The file is read, decoded and parsed completely before the database is touched; any reason it
cannot be imported is one ``CommandError`` line (exit status 1) and nothing is written. The
import itself is one transaction (``questions.importing.questions_import``). See docs/import.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from questions.importing import (
    Action,
    ImportPlan,
    ImportSourceError,
    ParsedSource,
    QuestionPlan,
    questions_import,
    source_decode,
    source_parse,
)

DEFAULT_PATH = Path(settings.BASE_DIR) / "questions" / "data" / "seed_llm_interview.txt"


def source_read(path: Path) -> ParsedSource:
    """Read, decode and parse ``path``; every reason it cannot be imported raises a one-line CommandError."""
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    if path.is_dir():
        raise CommandError(f"{path}: is a directory, not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CommandError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        text = source_decode(data)
    except ImportSourceError as error:
        raise CommandError(f"{path}: {error}") from None
    if not text.strip():
        raise CommandError(f"{path}: the file is empty")
    source = source_parse(text, file_name=path.name)
    if not source.question_count:
        raise CommandError(
            f"{path}: no recognisable questions (expected Markdown headings such as '## 1. 问题' "
            "followed by an answer, or '标题: 回答' lines)"
        )
    return source


class Command(BaseCommand):
    help = "Import questions and reference answers from a Markdown Q&A file (default: the shipped seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="Markdown/text file (UTF-8)")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be created or updated without writing anything"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        dry_run = bool(options["dry_run"])
        source = source_read(Path(options["path"]))
        if verbosity >= 1:
            for warning in source.warnings:
                self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        try:
            plan = questions_import(source=source, dry_run=dry_run, progress=self._progress(verbosity, source))
        except ValidationError as error:
            # Nothing was written (one transaction); name the first refused field.
            messages = [f"{name}: {'; '.join(errors)}" for name, errors in error.message_dict.items()]
            raise CommandError(f"refused, nothing imported: {messages[0] if messages else error}") from None
        self._report(plan, verbosity=verbosity, dry_run=dry_run)

    def _progress(self, verbosity: int, source: ParsedSource) -> Any:
        """A tqdm bar on a terminal only (logs and pipes get the plain summary)."""
        if verbosity < 1 or not self.stdout.isatty():
            return None

        def bar(items: Iterable[QuestionPlan]) -> Iterable[QuestionPlan]:
            from tqdm import tqdm

            return tqdm(items, total=source.question_count, desc="Importing", unit="q", file=self.stdout._out)

        return bar

    def _report(self, plan: ImportPlan, *, verbosity: int, dry_run: bool) -> None:
        if verbosity < 1:
            return
        prefix = "Dry run, nothing written. Would import" if dry_run else "Imported"
        self.stdout.write(f"{prefix} {plan.source.file_name}:")
        for topic in plan.topics:
            state = "new topic" if topic.new else "topic"
            self.stdout.write(
                f"  {topic.parsed.name} [{topic.parsed.slug}] ({state}): {_counts(topic.count)}"
                + (f", {topic.count(Action.IN_REVIEW)} left for review" if topic.count(Action.IN_REVIEW) else "")
            )
            if topic.not_in_file:
                self.stdout.write(
                    f"    not in the file, left as they are: {', '.join(topic.not_in_file)} "
                    "(archive them in the admin if they are gone for good)"
                )
            for item in topic.questions:
                if _shown(item, verbosity):
                    self.stdout.write(f"    {item.describe()}")
        in_review = plan.count(Action.IN_REVIEW)
        total = f"Total: {_counts(plan.count)}"
        if in_review:
            versions = "new version waits" if in_review == 1 else "new versions wait"
            total += f"; {in_review} {versions} in review because an expert's correction is published"
            total += " (a reviewer decides)"
        total += "."
        self.stdout.write(self.style.SUCCESS(total) if not dry_run else total)


def _counts(count: Any) -> str:
    updated = count(Action.PUBLISHED) + count(Action.IN_REVIEW)
    return f"{count(Action.CREATED)} created, {updated} updated (new versions), {count(Action.UNCHANGED)} unchanged"


def _shown(item: QuestionPlan, verbosity: int) -> bool:
    """Per-question lines: what waits for a reviewer always, changes at -v2, everything at -v3."""
    if item.action == Action.IN_REVIEW or verbosity >= 3:
        return True
    return verbosity >= 2 and (item.action != Action.UNCHANGED or item.retitled)
