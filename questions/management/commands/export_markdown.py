"""``manage.py export_markdown [PATH]``: the bank as Markdown in the seed's shape (re-importable)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from questions.interchange import markdown_export
from questions.management.commands._output import check_output_path, write_output


class Command(BaseCommand):
    help = "Export the published reference answers as Markdown: '# topic', '## N. question', answer below."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="File to write; '-' or nothing for standard output.")
        parser.add_argument("--original", action="store_true", help="Export version 1 (the seed as imported).")

    def handle(self, *args: Any, path: str | None = None, original: bool = False, **options: Any) -> None:
        check_output_path(path)
        write_output(self, path, markdown_export(original=original).encode("utf-8"))
