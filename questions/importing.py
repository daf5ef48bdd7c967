"""Import a Markdown Q&A file (the shipped seed and notes in the same shapes) into the question bank.

Two layers:

* The parser (``source_decode``, ``source_parse``) is pure: text in, ``ParsedSource`` out, no
  database. It understands
  - topics: the shallowest heading level when the file uses more than one (a lone first heading
    above sections that hold questions is the document's title, and the sections become topics);
    the same heading text twice means two parts: the second gets slug ``<slug>-2`` and a name
    suffix（第二部分）;
  - heading questions at any deeper level, indented or not, with or without a space after ``#``,
    numbered ``1.``, ``1.1``, ``Q1``, ``问题1``, ``第1题``, ``一、``, ``（一）`` or not at all (then the
    number is the position); ``1.1`` belongs to ``1`` whatever the ``#`` levels; a heading with no
    answer of its own that only holds sub-questions is a *group*, one with an answer is their
    *parent*;
  - ``标题: 回答`` lines (also ``**标题**: 回答``), ``Q: …`` / ``A: …`` pairs (also ``问：``/``答：``,
    or ``1. 问题？`` followed by ``答：…``) directly under a topic (or in a file without headings),
    one question each, numbered by position; following lines continue the answer; in files whose
    ``#`` headings can only be topics, lines that are all bold and numbered
    (``**1. 什么是 SFT？**``) are question headings;
  - YAML front matter is skipped; Windows/old-Mac line ends, a BOM and tabs are accepted;
  - clean-up with a warning each: a line that only repeats the end of the line before is
    dropped, an unclosed ``**`` is closed, indentation is normalised so that no answer renders
    as a code block (list nesting and fenced code are kept). Nothing else is changed.
  Never raises on odd input: it records ``ImportWarning``s. ``source_decode`` raises
  ``ImportSourceError`` for input that is not text.

* The import service (``import_plan``, ``questions_import``) matches parsed questions to the bank
  by topic slug + question number and creates or versions them; see ``questions_import``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from questions.models import Question, ReferenceAnswerVersion, Topic
from questions.services import question_search_document_refresh

Status = ReferenceAnswerVersion.Status

IMPORT_NOTE_PREFIX = "导入自 "
TITLE_MAX = Question._meta.get_field("title").max_length
NUMBER_MAX = Question._meta.get_field("number").max_length
TOPIC_NAME_MAX = Topic._meta.get_field("name").max_length
SLUG_MAX = Topic._meta.get_field("slug").max_length
GROUP_MAX = Question._meta.get_field("group").max_length
SOURCE_FILE_MAX = Question._meta.get_field("source_file").max_length
LINE_TITLE_MAX = 40
STRAY_MIN_CHARS = 4
TAB_WIDTH = 4


class ImportSourceError(Exception):
    """The input cannot be imported at all; ``str(error)`` is a one-line reason."""


@dataclass(frozen=True)
class ImportWarning:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ParsedQuestion:
    number: str
    title: str
    body: str
    line: int
    group: str = ""
    parent_number: str | None = None


@dataclass
class ParsedTopic:
    slug: str
    name: str
    line: int
    description: str = ""
    questions: list[ParsedQuestion] = field(default_factory=list)


@dataclass
class ParsedSource:
    file_name: str
    topics: list[ParsedTopic] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)

    @property
    def question_count(self) -> int:
        return sum(len(topic.questions) for topic in self.topics)


# --- Decoding ------------------------------------------------------------------------------------


def source_decode(data: bytes) -> str:
    """UTF-8 bytes (with or without BOM) → text with ``\\n`` line ends. Raises ImportSourceError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportSourceError("UTF-16 text, not UTF-8; save it as UTF-8")
    if b"\x00" in data:
        raise ImportSourceError("not a text file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportSourceError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


# --- Lines and headings --------------------------------------------------------------------------


@dataclass
class _Line:
    number: int  # 1-based line in the file
    text: str  # tabs in the indentation expanded, trailing space removed
    in_code: bool = False  # inside (or the fence of) a fenced code block
    fence: bool = False  # an opening or closing fence line

    @property
    def indent(self) -> int:
        return len(self.text) - len(self.text.lstrip(" "))

    @property
    def blank(self) -> bool:
        return not self.text.strip()


@dataclass
class _Heading:
    line: _Line
    level: int
    text: str
    number: str | None
    title: str
    content: list[_Line] = field(default_factory=list)  # lines up to the next heading


_HEADING_RE = re.compile(r"^(#{1,6})(?!#)[ \t]*(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE_RE = re.compile(r"^(`{3,}|~{3,})")
_LIST_ITEM_RE = re.compile(r"^( *)([-*+]|\d{1,3}[.)])( +)(.*)$")
_LIST_MARKER_ONLY_RE = re.compile(r"^( *)([-*+]|\d{1,3}[.)])$")
_CJK_DIGITS = dict(zip("零〇一二两三四五六七八九", [0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9], strict=True))
_CJK_NUMBER = "[零〇一二两三四五六七八九十百]+"
_NUMBER_PATTERNS = [
    re.compile(r"^[Qq]\s*(\d+)\s*[.．、:：)）\-]?\s*(.*)$"),
    re.compile(r"^问题?\s*(\d+)\s*[.．、:：)）]?\s*(.*)$"),
    re.compile(rf"^第\s*(\d+|{_CJK_NUMBER})\s*[题问]\s*[.．、:：]?\s*(.*)$"),
    re.compile(rf"^[（(]\s*(\d+|{_CJK_NUMBER})\s*[)）]\s*(.*)$"),
    re.compile(rf"^({_CJK_NUMBER})\s*[、.．]\s*(.*)$"),
    # "1. x", "1、x", "1) x", "1.1 x", "1 x"; a "." followed by a digit is part of the number.
    re.compile(r"^(\d+(?:\.\d+)*)(?:[.．](?!\d)|[、)）:：]|\s+)\s*(.*)$"),
    re.compile(r"^(\d+(?:\.\d+)*)[.．]?()$"),  # a number and no title
    # "1.1什么是…": a dotted number glued to Chinese text.
    re.compile(r"^(\d+(?:\.\d+)+)(?=[^\x00-\x7f])(.*)$"),
]
_PARTS = ["", "", "二", "三", "四", "五", "六", "七", "八", "九", "十"]


def _cjk_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十三 → 23, 一百 → 100; None for anything else."""
    if text.isdigit():
        return int(text)
    if "百" in text:
        head, _sep, rest = text.partition("百")
        hundreds = _CJK_DIGITS.get(head, 0) if head else 1
        tail = _cjk_to_int(rest.lstrip("零〇")) if rest else 0
        return None if tail is None else hundreds * 100 + tail
    if "十" in text:
        head, _sep, rest = text.partition("十")
        tens = _CJK_DIGITS.get(head) if head else 1
        ones = _CJK_DIGITS.get(rest) if rest else 0
        return None if tens is None or ones is None else tens * 10 + ones
    if len(text) == 1 and text in _CJK_DIGITS:
        return _CJK_DIGITS[text]
    return None


def _unwrap_emphasis(text: str) -> str:
    text = text.strip()
    while len(text) > 4 and text[:2] in ("**", "__") and text.endswith(text[:2]) and text[:2] not in text[2:-2]:
        text = text[2:-2].strip()
    return text


def number_split(text: str) -> tuple[str | None, str]:
    """``"1.1什么是 X？"`` → ``("1.1", "什么是 X？")``; ``"Q3: x"`` → ``("3", "x")``; unnumbered → ``(None, text)``."""
    text = _unwrap_emphasis(text)
    for pattern in _NUMBER_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        parts = []
        for part in match.group(1).split("."):
            value = _cjk_to_int(part)
            if value is None:
                break
            parts.append(str(value))
        else:
            return ".".join(parts), _unwrap_emphasis(match.group(2))
    return None, text


def _lines(text: str) -> tuple[list[_Line], int | None]:
    """The file's lines, and the line of a code fence that is never closed (or None)."""
    lines: list[_Line] = []
    fence: str | None = None
    fence_line: int | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped_left = raw.lstrip(" \t\u00a0")
        indentation = raw[: len(raw) - len(stripped_left)].replace("\u00a0", " ").expandtabs(TAB_WIDTH)
        line = _Line(number=number, text=(indentation + stripped_left).rstrip())
        fence_match = _FENCE_RE.match(stripped_left)
        if fence is not None:
            line.in_code = True
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
                and not stripped_left[len(fence_match.group(1)) :].strip()
            ):
                line.fence = True
                fence = None
        elif fence_match:
            line.in_code = line.fence = True
            fence = fence_match.group(1)
            fence_line = number
        lines.append(line)
    return lines, (fence_line if fence is not None else None)


def _heading(line: _Line) -> _Heading | None:
    if line.in_code:
        return None
    match = _HEADING_RE.match(line.text.strip())
    if not match:
        return None
    text = match.group(2).strip()
    number, title = number_split(text)
    return _Heading(line=line, level=len(match.group(1)), text=text, number=number, title=title)


_BOLD_HEADING_RE = re.compile(r"^\*\*([^*]+)\*\*$")
BOLD_HEADING_LEVEL = 7  # below every "#" level


def _bold_heading(line: _Line) -> _Heading | None:
    """A line that is all bold and numbered ("**1. 什么是 SFT？**") or a question ("**什么是 SFT？**")."""
    if line.in_code:
        return None
    match = _BOLD_HEADING_RE.match(line.text.strip())
    if not match:
        return None
    text = match.group(1).strip()
    number, title = number_split(text)
    if number is None and not text.endswith(("？", "?")):
        return None
    return _Heading(line=line, level=BOLD_HEADING_LEVEL, text=text, number=number, title=title)


def _bold_headings_used(lines: list[_Line]) -> bool:
    """Bold lines mark the questions only in files whose "#" headings cannot be questions themselves.

    That is: at least two such lines, and the "#" headings (if any) are of one level,
    unnumbered and not phrased as questions. Otherwise a bold line is part of an answer.
    """
    if sum(_bold_heading(line) is not None for line in lines) < 2:
        return False
    headings = [heading for line in lines if (heading := _heading(line)) is not None and heading.text]
    return len({heading.level for heading in headings}) <= 1 and not any(
        heading.number is not None or heading.text.endswith(("？", "?")) for heading in headings
    )


# --- Line questions ("标题: 回答") -------------------------------------------------------------------

_LINE_QUESTION_RE = re.compile(rf"^([^:：]{{1,{LINE_TITLE_MAX}}}?)\s*(?::\s+|：\s*)(\S.*)$")
_BOLD_LINE_QUESTION_RE = re.compile(rf"^\*\*([^*:：]{{1,{LINE_TITLE_MAX}}}?)\s*(?:[:：]\s*\*\*|\*\*\s*[:：])\s*(\S.*)$")
_QA_QUESTION_RE = re.compile(r"^(?:Q|问|问题|Question)\s*(\d*)\s*[:：.．、)）]\s*(\S.*)$", re.IGNORECASE)
_QA_ANSWER_RE = re.compile(r"^(?:A|答|回答|答案|Answer)\s*\d*\s*[:：.．、)）]\s*(.*)$", re.IGNORECASE)
_NUMBERED_QUESTION_RE = re.compile(r"^(\d{1,3})[.、)）]\s*(\S.*)$")  # "1. 什么是 SFT？" before an "答：" line
_BOLD_LABEL_RE = re.compile(r"^\*\*([^*]{1,20})\*\*\s*")
_QA_WORDS = {"q", "a", "问", "答", "问题", "回答", "答案", "question", "answer"}
_SENTENCE_PUNCTUATION = re.compile(r"[。！？!?，,；;、“”\"'`*#>|\[\]]")


def line_question_split(text: str) -> tuple[str, str] | None:
    """``"SFT和LLM性能: SFT…"`` → ``("SFT和LLM性能", "SFT…")``; None when the line is not in that shape."""
    stripped = text.strip()
    match = _BOLD_LINE_QUESTION_RE.match(stripped)  # "**标题**: 回答" or "**标题：** 回答"
    if match is None:
        if not stripped or _LIST_ITEM_RE.match(stripped) or stripped[0] in "#>|`*-+_=<[!":
            return None
        match = _LINE_QUESTION_RE.match(stripped)
    if not match:
        return None
    title, answer = match.group(1).strip(), match.group(2).strip()
    if (
        not title
        or _SENTENCE_PUNCTUATION.search(title)
        or title.replace(" ", "").isdigit()
        or title.casefold() in _QA_WORDS
        or answer.startswith("//")
    ):
        return None
    return title, answer


def _unbold_label(text: str) -> str:
    """``"**问题：** 什么是 SFT"`` → ``"问题： 什么是 SFT"`` (a bold label before the text)."""
    return _BOLD_LABEL_RE.sub(lambda match: match.group(1) + " ", text.strip(), count=1)


def _qa_question(lines: list[_Line], index: int) -> tuple[str, str | None] | None:
    """(question, number) when ``lines[index]`` opens a "Q: …" / "A: …" pair."""
    line = lines[index]
    if line.in_code:
        return None
    text = _unbold_label(line.text)
    match = _QA_QUESTION_RE.match(text)
    if match:
        return match.group(2).strip(), match.group(1) or None
    match = _NUMBERED_QUESTION_RE.match(text)
    following = next((other for other in lines[index + 1 :] if not other.blank), None)
    if match and following is not None and _QA_ANSWER_RE.match(_unbold_label(following.text)):
        return match.group(2).strip(), match.group(1)
    return None


def _opens_question(lines: list[_Line]) -> bool:
    """Whether the first non-blank line opens a question of its own ("标题: 回答", "Q: 问题")."""
    index = next((index for index, line in enumerate(lines) if not line.blank), None)
    if index is None or lines[index].in_code:
        return False
    return _qa_question(lines, index) is not None or line_question_split(lines[index].text) is not None


def _front_matter_blank(lines: list[_Line]) -> int | None:
    """Blank out a YAML front matter block (``---`` … ``---`` at the top); returns its last line."""
    if not lines or lines[0].text.strip() != "---":
        return None
    for index, line in enumerate(lines[1:60], start=1):
        if line.text.strip() in ("---", "..."):
            for covered in lines[: index + 1]:
                covered.text, covered.in_code, covered.fence = "", False, False
            return line.number
        if line.text.strip() and not re.match(r"^\s*([\w-]+\s*:|- )", line.text):
            return None
    return None


# --- Answer bodies -------------------------------------------------------------------------------


def _is_list_item(text: str) -> bool:
    return bool(_LIST_ITEM_RE.match(text) or _LIST_MARKER_ONLY_RE.match(text))


def _drop_repeated_tails(lines: list[_Line], warnings: list[ImportWarning]) -> list[_Line]:
    """Drop a line that only repeats the end of the previous non-blank line (a copy-paste slip)."""
    kept: list[_Line] = []
    previous: str | None = None
    for line in lines:
        if line.blank:
            kept.append(line)
            continue
        if line.in_code:
            previous = None
            kept.append(line)
            continue
        text = " ".join(line.text.split())
        if (
            previous is not None
            and not _is_list_item(line.text.strip())
            and len(text) >= STRAY_MIN_CHARS
            and len(previous) > len(text)
            and previous.endswith(text)
        ):
            warnings.append(
                ImportWarning(line.number, f"dropped a line that only repeats the end of the line before: {text!r}")
            )
            continue
        previous = text
        kept.append(line)
    return kept


def _bold_markers(text: str) -> int:
    return len(re.findall(r"\*\*", re.sub(r"`[^`]*`", "", text)))


def _repair_bold(lines: list[_Line], warnings: list[ImportWarning]) -> None:
    """Close an unclosed ``**`` in a paragraph: after the term it opens (before the first colon), else at the end."""
    paragraph: list[_Line] = []

    def close(paragraph: list[_Line]) -> None:
        if sum(_bold_markers(line.text) for line in paragraph) % 2 == 0:
            return
        line = next(line for line in paragraph if _bold_markers(line.text) % 2 == 1)
        start = line.text.rfind("**")
        colon = re.search(r"[:：]", line.text[start + 2 :])
        if colon and colon.start() > 0:
            position = start + 2 + colon.start()
            line.text = line.text[:position] + "**" + line.text[position:]
        else:
            line.text += "**"
        warnings.append(ImportWarning(line.number, f"closed an unclosed **: {line.text.strip()[:40]!r}…"))

    for line in lines:
        if line.blank or line.in_code or _is_list_item(line.text.strip()):
            close(paragraph)
            paragraph = [] if line.blank or line.in_code else [line]
        else:
            paragraph.append(line)
    close(paragraph)


def _normalise_indentation(lines: list[_Line]) -> list[tuple[str, bool]]:
    """Re-indent so that only list nesting (and fenced code) is indented, never a paragraph.

    Source indentation is relative and sloppy (answers indented by 3 or 6 spaces, which Markdown
    renders as code). A list item nests under the previous one when it is indented at least two
    columns deeper; a paragraph after a blank line belongs to a list item when it is indented
    deeper than that item's marker (CommonMark's rule, made lenient), otherwise it is a
    top-level paragraph; a line directly after a non-blank line continues it. A fenced code
    block moves as a whole: its lines keep their indentation relative to the opening fence.
    Returns each output line with whether it is code.
    """
    out: list[tuple[str, bool]] = []
    stack: list[tuple[int, int]] = []  # (source indent of a list marker, output indent of its content)
    previous_blank = True
    code_shift: tuple[int, int] | None = None  # in a fence: (source indent, output indent) of the opener
    for line in lines:
        if line.in_code:
            opening = code_shift is None
            if opening:
                code_shift = (line.indent, _paragraph_indent(line.indent, stack, previous_blank))
            source, target = code_shift
            text = line.text[min(source, line.indent) :]
            out.append((" " * target + text if text else "", True))
            if line.fence and not opening:
                code_shift = None
            previous_blank = False
            continue
        code_shift = None
        if line.blank:
            out.append(("", False))
            previous_blank = True
            continue
        item = _LIST_ITEM_RE.match(line.text) or _LIST_MARKER_ONLY_RE.match(line.text)
        if item:
            indent = len(item.group(1))
            while stack and indent <= stack[-1][0] + 1:
                stack.pop()
            target = stack[-1][1] if stack else 0
            marker = item.group(2)
            content = item.group(4) if item.re is _LIST_ITEM_RE else ""
            out.append(((" " * target + marker + " " + content).rstrip(), False))
            stack.append((indent, target + len(marker) + 1))
        else:
            out.append((" " * _paragraph_indent(line.indent, stack, previous_blank) + line.text.strip(), False))
        previous_blank = False
    return out


def _paragraph_indent(indent: int, stack: list[tuple[int, int]], previous_blank: bool) -> int:
    """Output indent of a non-list line; pops the list items it does not belong to."""
    if stack and not previous_blank:
        return stack[-1][1]
    while stack and indent <= stack[-1][0] + 1:
        stack.pop()
    return stack[-1][1] if stack else 0


def body_build(lines: Iterable[_Line], warnings: list[ImportWarning]) -> str:
    """The Markdown answer of the given source lines, cleaned up (see the module docstring)."""
    copies = [_Line(number=line.number, text=line.text, in_code=line.in_code, fence=line.fence) for line in lines]
    copies = _drop_repeated_tails(copies, warnings)
    _repair_bold(copies, warnings)
    out: list[str] = []
    for text, code in _normalise_indentation(copies):
        if text == "" and not code and (not out or out[-1] == ""):
            continue  # blank lines collapse, except inside code
        out.append(text)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


# --- Structure -----------------------------------------------------------------------------------


def _part_suffix(occurrence: int) -> str:
    if occurrence < len(_PARTS):
        return f"（第{_PARTS[occurrence]}部分）"
    return f"（第 {occurrence} 部分）"


def _slug(name: str, fallback: str) -> str:
    slug = slugify(name, allow_unicode=True)[: SLUG_MAX - 4].strip("-_")
    return slug or fallback


@dataclass
class _LineQuestion:
    """A "标题: 回答" line or a "Q: / A:" pair being read."""

    line: _Line
    title: str
    number: str | None
    awaiting_answer: bool  # a "Q:" line: the next non-blank line may be "A: …"
    answer: list[_Line] = field(default_factory=list)


@dataclass
class _Candidate:
    """A heading question (or group) of one topic, before the structure is resolved."""

    heading: _Heading
    container: _Candidate | None = None
    children: list[_Candidate] = field(default_factory=list)
    body: str = ""
    resolved_number: str | None = None  # the number it was imported under, once it is a question

    @property
    def is_group(self) -> bool:
        return not self.body and bool(self.children)


class _Builder:
    def __init__(self, file_name: str) -> None:
        self.source = ParsedSource(file_name=file_name)
        self.slug_counts: dict[str, int] = {}
        self.topic: ParsedTopic | None = None
        self.candidates: list[_Candidate] = []

    @property
    def warnings(self) -> list[ImportWarning]:
        return self.source.warnings

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(ImportWarning(line, message))

    # Topics

    def topic_open(self, name: str, line: int) -> None:
        self.topic_close()
        name = name.strip() or f"Topic {len(self.source.topics) + 1}"
        base = _slug(name, f"topic-{len(self.source.topics) + 1}")
        occurrence = self.slug_counts.get(base, 0) + 1
        self.slug_counts[base] = occurrence
        slug = base if occurrence == 1 else f"{base}-{occurrence}"
        if occurrence > 1:
            suffix = _part_suffix(occurrence)
            self.warn(line, f"heading {name!r} appears again: imported as a further part, {name}{suffix} ({slug})")
            name = name[: TOPIC_NAME_MAX - len(suffix)] + suffix
        self.topic = ParsedTopic(slug=slug, name=name[:TOPIC_NAME_MAX], line=line)
        self.source.topics.append(self.topic)

    def topic_default(self, line: int) -> ParsedTopic:
        if self.topic is None:
            stem = PurePath(self.source.file_name).stem or "imported"
            self.warn(line, f"questions before any topic heading go to a topic named after the file: {stem!r}")
            self.topic_open(stem, line)
        assert self.topic is not None
        return self.topic

    def topic_close(self) -> None:
        if self.topic is not None and self.candidates:
            self._resolve(self.topic, self.candidates)
        self.candidates = []

    # Content directly under a topic: "标题: 回答" lines, or the topic's description

    def topic_content(self, lines: list[_Line], *, before_any_heading: bool, min_line_questions: int = 1) -> None:
        """Lines directly under a topic (or before any heading).

        "标题: 回答" lines are questions, and so are "Q: 问题" / "A: 回答" pairs; a line after one
        continues its answer. When headings hold the questions around it, a single such line
        ("前言：…") is ordinary text: ``min_line_questions`` is then 2.
        """
        starts: list[tuple[str, str, str | None] | None] = []  # (title, first answer text, number)
        for index, line in enumerate(lines):
            qa = _qa_question(lines, index)
            if qa:
                starts.append((qa[0], "", qa[1]))
                continue
            split = None if line.in_code else line_question_split(line.text)
            starts.append((split[0], split[1], None) if split else None)
        if sum(start is not None for start in starts) < min_line_questions:
            starts = [None] * len(lines)

        current: _LineQuestion | None = None
        loose: list[_Line] = []
        for line, start in zip(lines, starts, strict=True):
            if start is not None:
                if current is not None:
                    self._line_question_add(current)
                title, answer, number = start
                current = _LineQuestion(line=line, title=title, number=number, awaiting_answer=not answer)
                if answer:
                    current.answer.append(_Line(number=line.number, text=answer))
            elif current is not None:
                answer_match = _QA_ANSWER_RE.match(_unbold_label(line.text)) if current.awaiting_answer else None
                if answer_match and not line.in_code:
                    if answer_match.group(1).strip():
                        current.answer.append(_Line(number=line.number, text=answer_match.group(1).strip()))
                else:
                    current.answer.append(line)
                current.awaiting_answer = current.awaiting_answer and line.blank
            else:
                loose.append(line)
        if current is not None:
            self._line_question_add(current)
        if not any(not line.blank for line in loose):
            return
        first = next(line.number for line in loose if not line.blank)
        if before_any_heading:
            self.warn(first, "text before the first heading belongs to no question; skipped")
        elif self.topic is not None:
            description = body_build(loose, self.warnings)
            if self.topic.description:
                self.warn(first, "text between the questions of a topic belongs to no question; skipped")
            else:
                self.topic.description = description

    def _line_question_add(self, item: _LineQuestion) -> None:
        topic = self.topic_default(item.line.number)
        body = body_build(item.answer, self.warnings)
        if not body:
            self.warn(item.line.number, f"question {item.title!r} has no answer; skipped")
            return
        number = item.number or str(len(topic.questions) + len(self.candidates) + 1)
        self._question_add(topic, ParsedQuestion(number=number, title=item.title, body=body, line=item.line.number))

    # Heading questions

    def heading_add(self, heading: _Heading) -> None:
        self.topic_default(heading.line.number)
        candidate = _Candidate(heading=heading, body=body_build(heading.content, self.warnings))
        self.candidates.append(candidate)

    def _resolve(self, topic: ParsedTopic, candidates: list[_Candidate]) -> None:
        """Decide parents and groups, then emit the questions in file order.

        The container of ``1.2`` is the latest ``1`` before it, whatever the ``#`` levels; an
        unnumbered or top-level-numbered heading sits under the nearest open heading of a
        shallower level. A container without an answer is a group, with one a parent.
        """
        open_by_level: list[_Candidate] = []
        by_number: dict[str, _Candidate] = {}
        for candidate in candidates:
            heading = candidate.heading
            while open_by_level and open_by_level[-1].heading.level >= heading.level:
                open_by_level.pop()
            container = None
            if heading.number and "." in heading.number:
                prefix = heading.number.rsplit(".", 1)[0]
                while prefix and prefix not in by_number:
                    prefix = prefix.rsplit(".", 1)[0] if "." in prefix else ""
                container = by_number.get(prefix) if prefix else None
            if container is None and open_by_level:
                container = open_by_level[-1]
            candidate.container = container
            if container is not None:
                container.children.append(candidate)
            if heading.number:
                by_number[heading.number] = candidate
            open_by_level.append(candidate)

        for candidate in candidates:
            heading = candidate.heading
            if candidate.is_group:
                continue  # a group: its title goes to its members
            if not candidate.body:
                self.warn(heading.line.number, f"heading {heading.text!r} has no answer; skipped")
                continue
            number = heading.number
            container = candidate.container
            if number is None:
                if container is not None and container.heading.number:
                    number = f"{container.heading.number}.{container.children.index(candidate) + 1}"
                else:
                    number = str(len(topic.questions) + 1)
            group, parent_number = "", None
            ancestor = container
            while ancestor is not None:
                if ancestor.is_group:
                    group = group or ancestor.heading.title or ancestor.heading.text
                elif parent_number is None:
                    parent_number = ancestor.resolved_number
                ancestor = ancestor.container
            title = heading.title or heading.text
            if not heading.title:
                self.warn(heading.line.number, f"heading {heading.text!r} has no title after its number")
            question = ParsedQuestion(
                number=number,
                title=title,
                body=candidate.body,
                line=heading.line.number,
                group=group[:GROUP_MAX],
                parent_number=parent_number,
            )
            candidate.resolved_number = self._question_add(topic, question)

    def _question_add(self, topic: ParsedTopic, question: ParsedQuestion) -> str:
        """Append with a number unique in the topic (a clash gets ``-2``, ``-3``…, with a warning)."""
        taken = {existing.number for existing in topic.questions}
        number = question.number[:NUMBER_MAX]
        if number in taken:
            suffix = 2
            while f"{number}-{suffix}"[:NUMBER_MAX] in taken:
                suffix += 1
            renumbered = f"{number[: NUMBER_MAX - len(str(suffix)) - 1]}-{suffix}"
            self.warn(question.line, f"number {number} is already used in {topic.name}; imported as {renumbered}")
            number = renumbered
        if len(question.title) > TITLE_MAX:
            self.warn(question.line, f"title longer than {TITLE_MAX} characters; shortened")
            question.title = question.title[: TITLE_MAX - 1] + "…"
        question.number = number
        topic.questions.append(question)
        return number


def _topic_headings(headings: list[_Heading], builder: _Builder) -> tuple[set[int], set[int]]:
    """Which headings (by line) are topics, and which are a document title to skip."""
    if not headings:
        return set(), set()
    levels = sorted({heading.level for heading in headings})
    if len(levels) == 1:
        # One level: questions, except unnumbered headings directly followed by "标题: 回答" lines.
        topics = set()
        for heading in headings:
            if heading.number is None and _opens_question(heading.content):
                topics.add(heading.line.number)
        return topics, set()
    top = [heading for heading in headings if heading.level == levels[0]]
    if all(heading.number for heading in top) and any(not line.blank for heading in top for line in heading.content):
        # "# 1. 什么是 SFT" with an answer and "## 1.1 …" below: all questions, none is a topic.
        return set(), set()
    if len(top) == 1 and top[0] is headings[0] and len(levels) >= 3:
        second = [heading for heading in headings if heading.level == levels[1]]
        index = {id(heading): position for position, heading in enumerate(headings)}
        with_questions = 0
        for heading in second:
            following = headings[index[id(heading)] + 1 :]
            if following and following[0].level > heading.level:
                with_questions += 1
        if len(second) >= 2 and with_questions >= 2:
            builder.warn(
                top[0].line.number,
                f"{top[0].text!r} is read as the document's title; the headings below it are the topics",
            )
            return {heading.line.number for heading in second}, {top[0].line.number}
    return {heading.line.number for heading in top}, set()


def source_parse(text: str, *, file_name: str) -> ParsedSource:
    """Parse a Markdown Q&A file. Never raises; problems become ``warnings``."""
    builder = _Builder(file_name)
    lines, unclosed_fence = _lines(text)
    front_matter_end = _front_matter_blank(lines)
    if front_matter_end is not None:
        builder.warn(1, f"front matter (lines 1–{front_matter_end}) skipped")
    if unclosed_fence is not None:
        builder.warn(unclosed_fence, "this code fence is never closed: the rest of the file is read as code")
    preamble: list[_Line] = []
    headings: list[_Heading] = []
    bold_headings = _bold_headings_used(lines)
    for line in lines:
        heading = _heading(line) or (_bold_heading(line) if bold_headings else None)
        if heading is not None and not heading.text:
            builder.warn(line.number, "empty heading; ignored")
            continue
        if heading is not None:
            headings.append(heading)
        elif headings:
            headings[-1].content.append(line)
        else:
            preamble.append(line)

    topic_lines, title_lines = _topic_headings(headings, builder)
    builder.topic_content(preamble, before_any_heading=True, min_line_questions=2 if headings else 1)
    for index, heading in enumerate(headings):
        number = heading.line.number
        following = headings[index + 1] if index + 1 < len(headings) else None
        questions_follow = following is not None and following.line.number not in topic_lines | title_lines
        if number in title_lines:
            builder.topic_content(heading.content, before_any_heading=True, min_line_questions=2)
            continue
        if number in topic_lines:
            builder.topic_open(heading.title or heading.text, number)
            builder.topic_content(
                heading.content, before_any_heading=False, min_line_questions=2 if questions_follow else 1
            )
        else:
            builder.heading_add(heading)
    builder.topic_close()
    builder.source.topics = [topic for topic in builder.source.topics if topic.questions]
    return builder.source


# --- Import service ------------------------------------------------------------------------------


class Action:
    CREATED = "created"  # new question, version 1 published
    PUBLISHED = "published"  # changed answer: a new imported version, published, superseding the previous one
    IN_REVIEW = "in_review"  # changed answer while an expert's version is published: left for a reviewer
    UNCHANGED = "unchanged"


@dataclass
class QuestionPlan:
    topic: ParsedTopic
    parsed: ParsedQuestion
    action: str
    question: Question | None = None
    previous: ReferenceAnswerVersion | None = None  # the latest imported version
    published: ReferenceAnswerVersion | None = None  # the version published now
    version_number: int = 1  # of the version to create
    retitled: bool = False
    replaced_number: int | None = None  # the number of the version published before the import

    @property
    def label(self) -> str:
        return f"{self.topic.slug} {self.parsed.number}"

    def describe(self) -> str:
        title = self.parsed.title
        if self.action == Action.CREATED:
            return f"created {self.parsed.number} {title} (v1 published)"
        if self.action == Action.PUBLISHED:
            superseded = f", supersedes v{self.replaced_number}" if self.replaced_number else ""
            return f"new version {self.parsed.number} v{self.version_number} published{superseded}: {title}"
        if self.action == Action.IN_REVIEW:
            return (
                f"new version {self.parsed.number} v{self.version_number} left in review: an expert's "
                f"v{self.replaced_number} is published, a reviewer decides: {title}"
            )
        return f"unchanged {self.parsed.number} {title}" + (" (title updated)" if self.retitled else "")


@dataclass
class TopicPlan:
    parsed: ParsedTopic
    topic: Topic | None  # None: to be created
    order: int
    new: bool = False
    not_in_file: list[str] = field(default_factory=list)  # numbers of the topic's questions the file lacks
    questions: list[QuestionPlan] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for plan in self.questions if plan.action == action)


@dataclass
class ImportPlan:
    source: ParsedSource
    topics: list[TopicPlan]

    def count(self, action: str) -> int:
        return sum(topic.count(action) for topic in self.topics)

    @property
    def questions(self) -> list[QuestionPlan]:
        return [plan for topic in self.topics for plan in topic.questions]


def change_note(file_name: str, line: int) -> str:
    return f"{IMPORT_NOTE_PREFIX}{file_name} 第 {line} 行"


def version_is_imported(version: ReferenceAnswerVersion) -> bool:
    """Versions the importer wrote: no author and an import change note."""
    return version.author_id is None and version.change_note.startswith(IMPORT_NOTE_PREFIX)


def import_plan(source: ParsedSource, *, lock: bool = False) -> ImportPlan:
    """What importing ``source`` would do, read from the database (nothing is written).

    With ``lock`` (inside a transaction) the matched questions are locked, so the plan stays
    true until the transaction applying it commits.
    """
    topics = {topic.slug: topic for topic in Topic.objects.filter(slug__in=[t.slug for t in source.topics])}
    next_order = (Topic.objects.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    questions = Question.objects.filter(topic__slug__in=list(topics)).select_related("topic")
    if lock:
        questions = questions.select_for_update()
    by_key = {(question.topic.slug, question.number): question for question in questions}
    versions: dict[int, list[ReferenceAnswerVersion]] = {}
    for version in ReferenceAnswerVersion.objects.filter(question__in=list(by_key.values())).order_by("number"):
        versions.setdefault(version.question_id, []).append(version)

    plans = []
    for parsed_topic in source.topics:
        topic = topics.get(parsed_topic.slug)
        if topic is None:
            order, next_order = next_order, next_order + 1
        else:
            order = topic.order
        topic_plan = TopicPlan(parsed=parsed_topic, topic=topic, order=order, new=topic is None)
        in_file = {parsed.number for parsed in parsed_topic.questions}
        topic_plan.not_in_file = sorted(
            (number for slug, number in by_key if slug == parsed_topic.slug and number not in in_file),
            key=_number_key,
        )
        for parsed in parsed_topic.questions:
            question = by_key.get((parsed_topic.slug, parsed.number))
            topic_plan.questions.append(_question_plan(parsed_topic, parsed, question, versions))
        plans.append(topic_plan)
    return ImportPlan(source=source, topics=plans)


def _number_key(number: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (0, part) for part in re.split(r"[.-]", number))


def _question_plan(
    topic: ParsedTopic,
    parsed: ParsedQuestion,
    question: Question | None,
    versions: dict[int, list[ReferenceAnswerVersion]],
) -> QuestionPlan:
    if question is None:
        return QuestionPlan(topic=topic, parsed=parsed, action=Action.CREATED)
    history = versions.get(question.pk, [])
    imported = [version for version in history if version_is_imported(version)]
    previous = imported[-1] if imported else None
    published = next((version for version in history if version.status == Status.PUBLISHED), None)
    plan = QuestionPlan(
        topic=topic,
        parsed=parsed,
        action=Action.UNCHANGED,
        question=question,
        previous=previous,
        published=published,
        version_number=(history[-1].number + 1) if history else 1,
        retitled=question.title != parsed.title,
        replaced_number=published.number if published else None,
    )
    if previous is not None and previous.body == parsed.body:
        return plan
    if previous is None and published is not None and published.body == parsed.body:
        return plan
    # The file's answer differs from what was last imported: a new version, never an overwrite.
    # It is published directly only when the published version is the importer's own (or there is
    # none); an expert's published correction is not replaced by the file without a reviewer.
    if published is None or (previous is not None and published.pk == previous.pk):
        plan.action = Action.PUBLISHED
    else:
        plan.action = Action.IN_REVIEW
    return plan


def questions_import(
    *,
    source: ParsedSource,
    dry_run: bool = False,
    progress: Callable[[Iterable[QuestionPlan]], Iterable[QuestionPlan]] | None = None,
) -> ImportPlan:
    """Import ``source`` into the bank; returns the plan that was carried out (or would be, with ``dry_run``).

    Questions are matched by topic slug + number. New ones get version 1 published (no author,
    change note "导入自 <file> 第 N 行"). A changed answer becomes version latest+1: published,
    superseding the previous import, when the published version is the previous import; left
    ``in_review`` when an expert's version is published. Titles, groups, parents, order and
    source lines follow the file. Everything happens in one transaction.
    """
    if dry_run:
        return import_plan(source)
    with transaction.atomic():
        plan = import_plan(source, lock=True)
        _plan_apply(plan, progress=progress)
    return plan


def _plan_apply(
    plan: ImportPlan, *, progress: Callable[[Iterable[QuestionPlan]], Iterable[QuestionPlan]] | None
) -> None:
    file_name = plan.source.file_name[:SOURCE_FILE_MAX]
    for topic_plan in plan.topics:
        if topic_plan.topic is None:
            parsed = topic_plan.parsed
            topic = Topic(slug=parsed.slug, name=parsed.name, description=parsed.description, order=topic_plan.order)
            # The slug is Unicode (slugify(allow_unicode=True)); the field's ASCII validator does not apply.
            topic.full_clean(exclude=["slug"])
            topic.save()
            topic_plan.topic = topic
    items: Iterable[QuestionPlan] = plan.questions
    if progress is not None:
        items = progress(items)
    topic_of = {id(topic_plan.parsed): topic_plan.topic for topic_plan in plan.topics}
    for item in items:
        _question_apply(item, topic_of[id(item.topic)], file_name)
    for topic_plan in plan.topics:
        _parents_link(topic_plan)


def _question_apply(plan: QuestionPlan, topic: Topic, file_name: str) -> None:
    parsed = plan.parsed
    now = timezone.now()
    order = plan.topic.questions.index(parsed) + 1
    if plan.question is None:
        question = Question(
            topic=topic,
            number=parsed.number,
            order=order,
            group=parsed.group,
            title=parsed.title,
            source_file=file_name,
            source_line=parsed.line,
        )
        question.full_clean(exclude=["search_document"])
        question.save()
        plan.question = question
    else:
        question = plan.question
        wanted = {
            "title": parsed.title,
            "group": parsed.group,
            "order": order,
            "source_file": file_name,
            "source_line": parsed.line,
        }
        changed = [name for name, value in wanted.items() if getattr(question, name) != value]
        if changed:  # an unchanged question is not written at all
            for name in changed:
                setattr(question, name, wanted[name])
            question.save(update_fields=[*changed, "updated_at"])

    if plan.action in (Action.CREATED, Action.PUBLISHED, Action.IN_REVIEW):
        publish = plan.action != Action.IN_REVIEW
        if publish and plan.published is not None:
            plan.published.status = Status.SUPERSEDED
            plan.published.save(update_fields=["status", "updated_at"])
        version = ReferenceAnswerVersion.objects.create(
            question=question,
            number=plan.version_number,
            body=parsed.body,
            status=Status.PUBLISHED if publish else Status.IN_REVIEW,
            change_note=change_note(file_name, parsed.line),
            based_on=plan.published or plan.previous,
            submitted_at=now,
            published_at=now if publish else None,
        )
        if publish:
            plan.published = version
    if plan.action in (Action.CREATED, Action.PUBLISHED) or plan.retitled:
        question_search_document_refresh(question=question, published=plan.published)


def _parents_link(topic_plan: TopicPlan) -> None:
    by_number = {plan.parsed.number: plan.question for plan in topic_plan.questions}
    for plan in topic_plan.questions:
        question = plan.question
        assert question is not None
        parent = by_number.get(plan.parsed.parent_number) if plan.parsed.parent_number else None
        if question.parent_id != (parent.pk if parent else None):
            question.parent = parent
            question.save(update_fields=["parent", "updated_at"])
