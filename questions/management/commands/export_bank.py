"""``manage.py export_bank [PATH]``: the whole bank with every version and error report as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from questions.interchange import bank_export
from questions.management.commands._output import check_output_path, write_output


class Command(BaseCommand):
    help = "Export topics, tags, questions, all reference versions and error reports as JSON (stdout without PATH)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="File to write; '-' or nothing for standard output.")

    def handle(self, *args: Any, path: str | None = None, **options: Any) -> None:
        check_output_path(path)
        document = bank_export()
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        write_output(self, path, text.encode("utf-8"))
        if path and path != "-":
            versions = sum(len(question["versions"]) for question in document["questions"])
            self.stderr.write(f"Exported {len(document['questions'])} questions, {versions} versions to {path}.")
