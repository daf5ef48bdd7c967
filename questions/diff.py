"""Diffs of reference-answer versions that read well for Chinese and Latin text alike.

Chinese is written without spaces, so a word-level diff (split on spaces) sees a whole
paragraph as one "word" and marks all of it changed. Here the text is cut into tokens:
every CJK character is a token of its own, a run of Latin letters/digits is one token
(so "Sparse" → "Supervised" reads as one replaced word, not a mess of letters), and every
other character (space, punctuation) is a token. ``difflib.SequenceMatcher`` compares the
token sequences with ``autojunk=False``: its junk heuristic would otherwise ignore common
characters (的, 是, spaces) in any text over 200 tokens and produce incoherent diffs.

Bodies are compared line by line first (Markdown paragraphs and list items are lines),
then a changed pair of lines is diffed token by token. Key points and misconceptions are
compared as lists the same way. Everything is rendered to HTML with ``<del>``/``<ins>``,
escaped, so the admin can show two versions side by side.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# CJK ideographs (with extension A and compatibility ideographs), kana, hangul, full-width forms.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|\s+|.", re.UNICODE | re.DOTALL)


def tokenize(text: str) -> list[str]:
    """Cut ``text`` into diff tokens: one per CJK character, one per Latin word, one per other character.

    ``"".join(tokenize(text)) == text`` always holds.
    """
    return _TOKEN_RE.findall(text)


def _matcher(a: Sequence[str], b: Sequence[str]) -> difflib.SequenceMatcher:
    return difflib.SequenceMatcher(None, a, b, autojunk=False)


def _pieces(old: str, new: str) -> list[tuple[str, str, str]]:
    """(opcode, escaped old piece, escaped new piece) for each run of the token diff."""
    a, b = tokenize(old), tokenize(new)
    return [
        (op, escape("".join(a[i1:i2])), escape("".join(b[j1:j2])))
        for op, i1, i2, j1, j2 in _matcher(a, b).get_opcodes()
    ]


def inline_diff(old: str, new: str) -> tuple[SafeString, SafeString]:
    """The old text with deletions marked and the new text with insertions marked, as HTML."""
    left: list[str] = []
    right: list[str] = []
    for op, removed, added in _pieces(old, new):
        if op == "equal":
            left.append(removed)
            right.append(added)
            continue
        left.append(f"<del>{removed}</del>" if removed else "")
        right.append(f"<ins>{added}</ins>" if added else "")
    return mark_safe("".join(left)), mark_safe("".join(right))  # noqa: S308 - every piece was escaped


def inline_diff_html(old: str, new: str) -> SafeString:
    """One text with both deletions and insertions marked in place (for a compact view)."""
    parts: list[str] = []
    for op, removed, added in _pieces(old, new):
        if op == "equal":
            parts.append(removed)
            continue
        parts.append(f"<del>{removed}</del>" if removed else "")
        parts.append(f"<ins>{added}</ins>" if added else "")
    return mark_safe("".join(parts))  # noqa: S308 - every piece was escaped


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff. ``kind``: equal, changed, added or removed."""

    kind: str
    left: SafeString
    right: SafeString
    left_number: int | None = None
    right_number: int | None = None


@dataclass
class DiffStats:
    inserted_chars: int = 0
    deleted_chars: int = 0


def _rows(old: Sequence[str], new: Sequence[str], stats: DiffStats | None = None) -> list[DiffRow]:
    rows: list[DiffRow] = []
    empty = mark_safe("")
    for op, i1, i2, j1, j2 in _matcher(old, new).get_opcodes():
        if op == "equal":
            for offset in range(i2 - i1):
                text = escape(old[i1 + offset])
                rows.append(DiffRow("equal", text, text, i1 + offset + 1, j1 + offset + 1))
            continue
        # A replaced block pairs its lines in order; surplus lines are plain removals/additions.
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for offset in range(pairs):
            before, after = old[i1 + offset], new[j1 + offset]
            left, right = inline_diff(before, after)
            rows.append(DiffRow("changed", left, right, i1 + offset + 1, j1 + offset + 1))
            if stats is not None:
                _count(before, after, stats)
        for index in range(i1 + pairs, i2):
            rows.append(DiffRow("removed", format_html("<del>{}</del>", old[index]), empty, index + 1, None))
            if stats is not None:
                stats.deleted_chars += len(old[index])
        for index in range(j1 + pairs, j2):
            rows.append(DiffRow("added", empty, format_html("<ins>{}</ins>", new[index]), None, index + 1))
            if stats is not None:
                stats.inserted_chars += len(new[index])
    return rows


def _count(before: str, after: str, stats: DiffStats) -> None:
    a, b = tokenize(before), tokenize(after)
    for op, i1, i2, j1, j2 in _matcher(a, b).get_opcodes():
        if op != "equal":
            stats.deleted_chars += sum(len(token) for token in a[i1:i2])
            stats.inserted_chars += sum(len(token) for token in b[j1:j2])


def text_diff_rows(old: str, new: str, stats: DiffStats | None = None) -> list[DiffRow]:
    """Side-by-side rows of two Markdown texts: lines aligned, changed lines diffed by token."""
    return _rows(old.splitlines(), new.splitlines(), stats)


def list_diff_rows(old: Sequence[str], new: Sequence[str], stats: DiffStats | None = None) -> list[DiffRow]:
    """Side-by-side rows of two lists of statements (key points, misconceptions)."""
    return _rows([str(item) for item in old], [str(item) for item in new], stats)


@dataclass
class VersionDiff:
    body: list[DiffRow]
    key_points: list[DiffRow]
    misconceptions: list[DiffRow]
    stats: DiffStats = field(default_factory=DiffStats)

    @property
    def identical(self) -> bool:
        return all(row.kind == "equal" for row in (*self.body, *self.key_points, *self.misconceptions))


class VersionContent(Protocol):
    """What a diff reads from a version (``ReferenceAnswerVersion`` has it)."""

    body: str
    key_points: list[str]
    misconceptions: list[str]


def version_diff(old: VersionContent, new: VersionContent) -> VersionDiff:
    """Compare two versions: body, key points and misconceptions."""
    stats = DiffStats()
    return VersionDiff(
        body=text_diff_rows(old.body, new.body, stats),
        key_points=list_diff_rows(old.key_points or [], new.key_points or [], stats),
        misconceptions=list_diff_rows(old.misconceptions or [], new.misconceptions or [], stats),
        stats=stats,
    )
