"""The Chinese catalogue covers every message of the project's templates and Python code.

GNU gettext is not needed: messages are collected here with Python's ``ast`` (calls of
``_``, ``gettext``, ``gettext_lazy``, ``ngettext``…) and a small reader of the ``translate``
and ``blocktranslate`` template tags, following the rules of Django's ``makemessages``
(``%`` doubled in template messages, ``{{ name }}`` becoming ``%(name)s``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SKIPPED_DIRS = {".venv", "var", "staticfiles", "tests", "node_modules", "docker", "migrations", ".git", "locale"}
SINGULAR = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy"}
PLURAL = {"ngettext", "ngettext_lazy", "npgettext", "npgettext_lazy"}

TRANSLATE_TAG = re.compile(r"""{%\s*(?:translate|trans)\s+(?P<q>["'])(?P<text>.*?)(?P=q)(?:\s+[^%]*)?%}""")
BLOCK_TAG = re.compile(
    r"{%\s*(?:blocktranslate|blocktrans)\b(?P<options>[^%]*)%}(?P<body>.*?){%\s*endblock(?:translate|trans)\s*%}", re.S
)
PLURAL_TAG = re.compile(r"{%\s*plural\s*%}")
VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")


def project_files(suffix: str) -> list[Path]:
    return [
        path for path in ROOT.rglob(f"*{suffix}") if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts[:-1])
    ]


def python_messages(path: Path) -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        strings = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        offset = 1 if name.startswith(("p", "np")) else 0  # pgettext(context, message)
        if name in SINGULAR and len(strings) > offset:
            found.add(strings[offset])
        elif name in PLURAL and len(strings) >= 2 + offset:
            found.add((strings[offset], strings[offset + 1]))
    return found


def _block_text(text: str, trimmed: bool) -> str:
    text = text.replace("%", "%%")
    text = VARIABLE.sub(lambda match: f"%({match.group(1)})s", text)
    if trimmed:
        text = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text


def template_messages(path: Path) -> set[str | tuple[str, str]]:
    source = path.read_text(encoding="utf-8")
    found: set[str | tuple[str, str]] = {match["text"].replace("%", "%%") for match in TRANSLATE_TAG.finditer(source)}
    for match in BLOCK_TAG.finditer(source):
        trimmed = "trimmed" in match["options"]
        parts = PLURAL_TAG.split(match["body"])
        if len(parts) == 2:
            found.add((_block_text(parts[0], trimmed), _block_text(parts[1], trimmed)))
        else:
            found.add(_block_text(match["body"], trimmed))
    return found


def catalogue() -> dict[str | tuple[str, str], object]:
    with CATALOGUE.open("rb") as handle:
        messages = read_po(handle, locale="zh_Hans")
    return {
        (message.id if isinstance(message.id, str) else tuple(message.id)): message
        for message in messages
        if message.id
    }


def test_every_message_of_the_catalogue_is_translated() -> None:
    untranslated = [
        key
        for key, message in catalogue().items()
        if message.fuzzy or not (message.string if isinstance(message.string, str) else all(message.string))
    ]
    assert not untranslated, f"untranslated or fuzzy entries in {CATALOGUE.name}: {untranslated[:20]}"


def test_every_message_in_code_and_templates_is_in_the_catalogue() -> None:
    known = catalogue()
    missing: dict[str, list[object]] = {}
    for path in project_files(".py"):
        for message in python_messages(path) - known.keys():
            missing.setdefault(str(path.relative_to(ROOT)), []).append(message)
    for path in project_files(".html"):
        for message in template_messages(path) - known.keys():
            missing.setdefault(str(path.relative_to(ROOT)), []).append(message)
    assert not missing, f"messages missing from {CATALOGUE.name} (run makemessages and translate): {missing}"


@pytest.mark.parametrize(
    ("english", "chinese"),
    [("Question bank", "题库"), ("queued", "排队中"), ("Submit all answers", "提交全部答案")],
)
def test_compiled_catalogue_is_used(english: str, chinese: str) -> None:
    with translation.override("zh-hans"):
        assert translation.gettext(english) == chinese
