"""``manage.py export_moodle [PATH]``: Moodle XML essay questions, the reference answer as grader information."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from questions.interchange import moodle_export
from questions.management.commands._output import check_output_path, write_output


class Command(BaseCommand):
    help = "Export published questions as Moodle XML (one category per topic, essay questions, UTF-8)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="File to write; '-' or nothing for standard output.")
        parser.add_argument("--category", default="LLM 面试题库", help="Top category name in Moodle.")

    def handle(self, *args: Any, path: str | None = None, category: str = "", **options: Any) -> None:
        check_output_path(path)
        write_output(self, path, moodle_export(category_root=category or "LLM 面试题库"))
