"""``manage.py import_bank PATH``: import a bank exported by ``export_bank`` (validated first, atomic)."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from questions.interchange import InterchangeError, bank_import


class Command(BaseCommand):
    help = "Import a JSON bank made by export_bank. Nothing is written unless the whole file is valid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The JSON file ('-' for standard input).")
        parser.add_argument(
            "--skip-existing", action="store_true", help="Leave questions that already exist as they are."
        )

    def handle(self, *args: Any, path: str, skip_existing: bool = False, **options: Any) -> None:
        try:
            if path == "-":
                raw = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as stream:
                    raw = stream.read()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}") from error
        except UnicodeDecodeError as error:
            raise CommandError(f"{path} is not UTF-8 text: {error.reason}") from error
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as error:
            raise CommandError(
                f"{path} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
            ) from None
        try:
            report = bank_import(document, skip_existing=skip_existing)
        except InterchangeError as error:
            details = "\n".join(f"  - {problem}" for problem in error.problems[:50])
            more = f"\n  … and {len(error.problems) - 50} more" if len(error.problems) > 50 else ""
            raise CommandError(f"Nothing imported; the file has problems:\n{details}{more}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {report.questions_created} questions ({report.questions_skipped} skipped), "
                f"{report.versions_created} versions, {report.errata_created} error reports, "
                f"{report.topics_created} new topics, {report.tags_created} new tags."
            )
        )
        if report.users_created:
            self.stdout.write(
                f"Created {len(report.users_created)} inactive users for authorship: {', '.join(report.users_created)}"
            )
