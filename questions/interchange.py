"""Moving the bank in and out: full JSON (every version, every report), seed-shaped Markdown, Moodle XML.

JSON (``bank_export`` / ``bank_import``) is the lossless format: topics, tags, questions,
every reference version with its status, author and reviewer (by username), notes and
timestamps, and every error report. Importing what was exported into an empty bank and
exporting again gives the same document (``exported_at`` aside). Import validates the whole
document first and writes in one transaction: a bad file changes nothing. Users named in the
file and missing from the database are created inactive, with no usable password, so
authorship survives a move between installations without opening accounts.

Markdown (``markdown_export``) has the seed's shape (``#`` topic, ``##`` numbered question,
answer below) so ``import_questions`` reads it back. Moodle XML (``moodle_export``) holds one
essay question per question, in one category per topic, with the published reference answer,
its key points and misconceptions as grader information.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape

from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic
from questions.services import question_search_document_refresh

FORMAT = "interview-platform-bank"
FORMAT_VERSION = 1

VersionStatus = ReferenceAnswerVersion.Status


class InterchangeError(Exception):
    """The document is not a valid bank; ``problems`` lists every one found (path: message)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


# --- JSON export --------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def bank_export() -> dict[str, Any]:
    """The whole bank as a JSON-serialisable document (a constant number of queries)."""
    topics = list(Topic.objects.order_by("order", "id"))
    tags = list(Tag.objects.order_by("slug"))
    questions = (
        Question.objects.select_related("topic", "parent")
        .prefetch_related("tags")
        .order_by("topic__order", "topic_id", "order", "id")
    )
    versions: dict[int, list[ReferenceAnswerVersion]] = {}
    for version in ReferenceAnswerVersion.objects.select_related("author", "reviewer", "based_on").order_by(
        "question_id", "number"
    ):
        versions.setdefault(version.question_id, []).append(version)
    errata: dict[int, list[Erratum]] = {}
    for erratum in Erratum.objects.select_related("version", "fixed_in", "reporter", "resolved_by").order_by(
        "question_id", "created_at", "id"
    ):
        errata.setdefault(erratum.question_id, []).append(erratum)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "topics": [
            {
                "slug": topic.slug,
                "name": topic.name,
                "name_en": topic.name_en,
                "description": topic.description,
                "order": topic.order,
                "created_at": _when(topic.created_at),
                "updated_at": _when(topic.updated_at),
            }
            for topic in topics
        ],
        "tags": [{"slug": tag.slug, "name": tag.name} for tag in tags],
        "questions": [_question_export(q, versions.get(q.pk, []), errata.get(q.pk, [])) for q in questions],
    }


def _question_export(question: Question, versions: list[ReferenceAnswerVersion], errata: list[Erratum]) -> dict:
    return {
        "topic": question.topic.slug,
        "number": question.number,
        "order": question.order,
        "group": question.group,
        "parent": question.parent.number if question.parent else None,
        "title": question.title,
        "title_en": question.title_en,
        "difficulty": question.difficulty,
        "status": question.status,
        "tags": sorted(tag.slug for tag in question.tags.all()),
        "source_file": question.source_file,
        "source_line": question.source_line,
        "created_at": _when(question.created_at),
        "updated_at": _when(question.updated_at),
        "versions": [
            {
                "number": version.number,
                "status": version.status,
                "body": version.body,
                "key_points": list(version.key_points or []),
                "misconceptions": list(version.misconceptions or []),
                "change_note": version.change_note,
                "based_on": version.based_on.number if version.based_on else None,
                "author": _username(version.author),
                "reviewer": _username(version.reviewer),
                "review_comment": version.review_comment,
                "created_at": _when(version.created_at),
                "updated_at": _when(version.updated_at),
                "submitted_at": _when(version.submitted_at),
                "reviewed_at": _when(version.reviewed_at),
                "published_at": _when(version.published_at),
            }
            for version in versions
        ],
        "errata": [
            {
                "version": erratum.version.number if erratum.version else None,
                "quote": erratum.quote,
                "explanation": erratum.explanation,
                "severity": erratum.severity,
                "status": erratum.status,
                "fixed_in": erratum.fixed_in.number if erratum.fixed_in else None,
                "resolution_note": erratum.resolution_note,
                "reporter": _username(erratum.reporter),
                "resolved_by": _username(erratum.resolved_by),
                "created_at": _when(erratum.created_at),
                "resolved_at": _when(erratum.resolved_at),
            }
            for erratum in errata
        ],
    }


# --- JSON validation -----------------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        return value

    def text(self, data: dict, key: str, path: str, *, required: bool = False, max_length: int | None = None) -> None:
        value = data.get(key, "")
        if value is None and not required:
            return
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", "must be a string")
        elif required and not value.strip():
            self.fail(f"{path}.{key}", "is required")
        elif max_length is not None and len(value) > max_length:
            self.fail(f"{path}.{key}", f"is longer than {max_length} characters")

    def choice(self, data: dict, key: str, path: str, choices: list[str]) -> None:
        if data.get(key) not in choices:
            self.fail(f"{path}.{key}", f"must be one of {', '.join(choices)} (got {data.get(key)!r})")

    def when(self, data: dict, key: str, path: str, *, required: bool = False) -> None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "is required")
            return
        if not isinstance(value, str) or parse_datetime(value) is None:
            self.fail(f"{path}.{key}", f"must be an ISO 8601 date-time (got {value!r})")

    def integer(self, data: dict, key: str, path: str, *, minimum: int = 0, nullable: bool = False) -> None:
        value = data.get(key)
        if value is None and nullable:
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(f"{path}.{key}", f"must be an integer ≥ {minimum}")

    def strings(self, data: dict, key: str, path: str) -> None:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(f"{path}.{key}", "must be a list of strings")


def bank_validate(document: Any) -> None:
    """Raise ``InterchangeError`` listing every problem of the document; return if it is valid."""
    check = _Checker()
    root = check.obj(document, "$")
    if root and root.get("format") != FORMAT:
        check.fail("$.format", f"must be {FORMAT!r}")
    if root and root.get("format_version") != FORMAT_VERSION:
        check.fail("$.format_version", f"unsupported (this platform reads version {FORMAT_VERSION})")
    topic_slugs: set[str] = set()
    for index, item in enumerate(check.items(root.get("topics"), "$.topics")):
        path = f"$.topics[{index}]"
        topic = check.obj(item, path)
        check.text(topic, "slug", path, required=True, max_length=80)
        check.text(topic, "name", path, required=True, max_length=200)
        check.text(topic, "name_en", path, max_length=200)
        check.text(topic, "description", path)
        check.integer(topic, "order", path)
        if topic.get("slug") in topic_slugs:
            check.fail(f"{path}.slug", f"duplicate topic {topic.get('slug')!r}")
        topic_slugs.add(topic.get("slug"))
    tag_slugs: set[str] = set()
    for index, item in enumerate(check.items(root.get("tags", []), "$.tags")):
        path = f"$.tags[{index}]"
        tag = check.obj(item, path)
        check.text(tag, "slug", path, required=True, max_length=60)
        check.text(tag, "name", path, required=True, max_length=60)
        tag_slugs.add(tag.get("slug"))
    keys: set[tuple[Any, Any]] = set()
    questions = check.items(root.get("questions"), "$.questions")
    numbers_by_topic: dict[Any, set[Any]] = {}
    for item in questions:
        if isinstance(item, dict):
            numbers_by_topic.setdefault(item.get("topic"), set()).add(item.get("number"))
    for index, item in enumerate(questions):
        path = f"$.questions[{index}]"
        question = check.obj(item, path)
        if not question:
            continue
        _question_validate(check, question, path, topic_slugs, tag_slugs, numbers_by_topic)
        key = (question.get("topic"), question.get("number"))
        if key in keys:
            check.fail(path, f"duplicate question {key[0]} #{key[1]}")
        keys.add(key)
    if check.problems:
        raise InterchangeError(check.problems)


def _question_validate(
    check: _Checker,
    question: dict,
    path: str,
    topic_slugs: set[str],
    tag_slugs: set[str],
    numbers_by_topic: dict[Any, set[Any]],
) -> None:
    if question.get("topic") not in topic_slugs:
        check.fail(f"{path}.topic", f"unknown topic {question.get('topic')!r}")
    check.text(question, "number", path, required=True, max_length=20)
    check.text(question, "title", path, required=True, max_length=500)
    for key in ("title_en", "group"):
        check.text(question, key, path, max_length=500)
    check.text(question, "source_file", path, max_length=300)
    check.integer(question, "order", path)
    check.integer(question, "source_line", path, nullable=True)
    check.choice(question, "difficulty", path, list(Question.Difficulty.values))
    check.choice(question, "status", path, list(Question.Status.values))
    check.when(question, "created_at", path)
    check.when(question, "updated_at", path)
    parent = question.get("parent")
    if parent is not None and parent not in numbers_by_topic.get(question.get("topic"), set()):
        check.fail(f"{path}.parent", f"no question {parent!r} in the same topic")
    check.strings(question, "tags", path)
    for tag in question.get("tags") or []:
        if isinstance(tag, str) and tag not in tag_slugs:
            check.fail(f"{path}.tags", f"unknown tag {tag!r}")
    numbers: set[int] = set()
    published = 0
    versions = check.items(question.get("versions", []), f"{path}.versions")
    for index, item in enumerate(versions):
        vpath = f"{path}.versions[{index}]"
        version = check.obj(item, vpath)
        check.integer(version, "number", vpath, minimum=1)
        check.choice(version, "status", vpath, list(VersionStatus.values))
        check.text(version, "body", vpath, required=True)
        check.strings(version, "key_points", vpath)
        check.strings(version, "misconceptions", vpath)
        for key in ("change_note", "review_comment", "author", "reviewer"):
            check.text(version, key, vpath)
        check.when(version, "created_at", vpath)
        for key in ("updated_at", "submitted_at", "reviewed_at", "published_at"):
            check.when(version, key, vpath)
        if version.get("number") in numbers:
            check.fail(f"{vpath}.number", f"duplicate version number {version.get('number')}")
        numbers.add(version.get("number"))
        published += version.get("status") == VersionStatus.PUBLISHED
    if published > 1:
        check.fail(f"{path}.versions", "more than one published version")
    for index, version in enumerate(v for v in versions if isinstance(v, dict)):
        based_on = version.get("based_on")
        if based_on is not None and based_on not in numbers:
            check.fail(f"{path}.versions[{index}].based_on", f"no version {based_on!r}")
    for index, item in enumerate(check.items(question.get("errata", []), f"{path}.errata")):
        epath = f"{path}.errata[{index}]"
        erratum = check.obj(item, epath)
        check.text(erratum, "quote", epath, required=True)
        check.text(erratum, "explanation", epath, required=True)
        check.choice(erratum, "severity", epath, list(Erratum.Severity.values))
        check.choice(erratum, "status", epath, list(Erratum.Status.values))
        for key in ("resolution_note", "reporter", "resolved_by"):
            check.text(erratum, key, epath)
        check.when(erratum, "created_at", epath)
        check.when(erratum, "resolved_at", epath)
        for key in ("version", "fixed_in"):
            number = erratum.get(key)
            if number is not None and number not in numbers:
                check.fail(f"{epath}.{key}", f"no version {number!r}")
        if erratum.get("status") == Erratum.Status.FIXED and erratum.get("fixed_in") is None:
            check.fail(f"{epath}.fixed_in", "a fixed report names the version that fixed it")


# --- JSON import -----------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    topics_created: int = 0
    tags_created: int = 0
    questions_created: int = 0
    questions_skipped: int = 0
    versions_created: int = 0
    errata_created: int = 0
    users_created: list[str] = field(default_factory=list)


def _parse(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


class _Users:
    """Resolve usernames; a missing user is created inactive with an unusable password."""

    def __init__(self, report: ImportReport) -> None:
        self.model = get_user_model()
        self.cache: dict[str, Any] = {}
        self.report = report

    def get(self, username: str | None) -> Any:
        if not username:
            return None
        if username not in self.cache:
            user = self.model.objects.filter(**{self.model.USERNAME_FIELD: username}).first()
            if user is None:
                user = self.model(**{self.model.USERNAME_FIELD: username}, is_active=False)
                user.set_unusable_password()
                user.save()
                self.report.users_created.append(username)
            self.cache[username] = user
        return self.cache[username]


@transaction.atomic
def bank_import(document: Any, *, skip_existing: bool = False) -> ImportReport:
    """Import a document made by ``bank_export``: validated first, written in one transaction.

    Topics and tags are matched by slug (created when missing). A question that already
    exists (same topic slug and number) is an error, or skipped with ``skip_existing``.
    """
    bank_validate(document)
    report = ImportReport()
    existing = {(slug, number) for slug, number in Question.objects.values_list("topic__slug", "number")}
    clashes = [f"{q['topic']} #{q['number']}" for q in document["questions"] if (q["topic"], q["number"]) in existing]
    if clashes and not skip_existing:
        raise InterchangeError(
            [f"{len(clashes)} questions already exist (e.g. {', '.join(clashes[:3])}); use --skip-existing"]
        )
    topics: dict[str, Topic] = {}
    for data in document["topics"]:
        topic, created = Topic.objects.get_or_create(
            slug=data["slug"],
            defaults={
                "name": data["name"],
                "name_en": data.get("name_en", ""),
                "description": data.get("description", ""),
                "order": data.get("order", 0),
            },
        )
        if created:
            report.topics_created += 1
            _stamp(Topic, topic.pk, data, "created_at", "updated_at")
        topics[topic.slug] = topic
    tags: dict[str, Tag] = {}
    for data in document.get("tags", []):
        tag, created = Tag.objects.get_or_create(slug=data["slug"], defaults={"name": data["name"]})
        report.tags_created += created
        tags[tag.slug] = tag
    users = _Users(report)
    created_questions: dict[tuple[str, str], Question] = {}
    for data in document["questions"]:
        key = (data["topic"], data["number"])
        if key in existing:
            report.questions_skipped += 1
            continue
        created_questions[key] = _question_import(data, topics, tags, users, report)
    for data in document["questions"]:
        question = created_questions.get((data["topic"], data["number"]))
        if question is not None and data.get("parent") is not None:
            parent = Question.objects.get(topic=question.topic, number=data["parent"])
            Question.objects.filter(pk=question.pk).update(parent=parent)
    return report


def _stamp(model: type, pk: int, data: dict, *keys: str) -> None:
    """Restore timestamps that ``auto_now``/``auto_now_add`` overwrote (a queryset update skips them)."""
    values = {key: _parse(data.get(key)) for key in keys if data.get(key)}
    if values:
        model.objects.filter(pk=pk).update(**values)


def _question_import(
    data: dict, topics: dict[str, Topic], tags: dict[str, Tag], users: _Users, report: ImportReport
) -> Question:
    question = Question.objects.create(
        topic=topics[data["topic"]],
        number=data["number"],
        order=data.get("order", 0),
        group=data.get("group") or "",
        title=data["title"],
        title_en=data.get("title_en") or "",
        difficulty=data["difficulty"],
        status=data["status"],
        source_file=data.get("source_file") or "",
        source_line=data.get("source_line"),
    )
    question.tags.set([tags[slug] for slug in data.get("tags", [])])
    report.questions_created += 1
    by_number: dict[int, ReferenceAnswerVersion] = {}
    for vdata in sorted(data.get("versions", []), key=lambda v: v["number"]):
        version = ReferenceAnswerVersion.objects.create(
            question=question,
            number=vdata["number"],
            status=vdata["status"],
            body=vdata["body"],
            key_points=vdata.get("key_points", []),
            misconceptions=vdata.get("misconceptions", []),
            change_note=vdata.get("change_note") or "",
            author=users.get(vdata.get("author")),
            reviewer=users.get(vdata.get("reviewer")),
            review_comment=vdata.get("review_comment") or "",
            submitted_at=_parse(vdata.get("submitted_at")),
            reviewed_at=_parse(vdata.get("reviewed_at")),
            published_at=_parse(vdata.get("published_at")),
        )
        by_number[version.number] = version
        report.versions_created += 1
    for vdata in data.get("versions", []):
        version = by_number[vdata["number"]]
        updates: dict[str, Any] = {
            key: _parse(vdata.get(key)) for key in ("created_at", "updated_at") if vdata.get(key)
        }
        if vdata.get("based_on") is not None:
            updates["based_on"] = by_number[vdata["based_on"]]
        if updates:
            ReferenceAnswerVersion.objects.filter(pk=version.pk).update(**updates)
    for edata in data.get("errata", []):
        erratum = Erratum.objects.create(
            question=question,
            version=by_number.get(edata.get("version")) if edata.get("version") is not None else None,
            quote=edata["quote"],
            explanation=edata["explanation"],
            severity=edata["severity"],
            status=edata["status"],
            fixed_in=by_number.get(edata.get("fixed_in")) if edata.get("fixed_in") is not None else None,
            resolution_note=edata.get("resolution_note") or "",
            reporter=users.get(edata.get("reporter")),
            resolved_by=users.get(edata.get("resolved_by")),
            resolved_at=_parse(edata.get("resolved_at")),
        )
        _stamp(Erratum, erratum.pk, edata, "created_at")
        report.errata_created += 1
    published = next((v for v in by_number.values() if v.status == VersionStatus.PUBLISHED), None)
    question_search_document_refresh(question=question, published=published)
    _stamp(Question, question.pk, data, "created_at", "updated_at")
    return question


# --- Markdown -------------------------------------------------------------------------------------------------


def _version_for_export(question: Question, *, original: bool) -> ReferenceAnswerVersion | None:
    versions = sorted(question.versions.all(), key=lambda v: v.number)
    if original:
        return versions[0] if versions else None
    return next((v for v in versions if v.status == VersionStatus.PUBLISHED), None)


def _exported_questions() -> list[Question]:
    return list(
        Question.objects.filter(status=Question.Status.ACTIVE)
        .select_related("topic")
        .prefetch_related("versions", "tags")
        .order_by("topic__order", "topic_id", "order", "id")
    )


_HEADING_START = re.compile(r"^(\s*)#")
# The importer names a repeated heading's later parts "<heading>（第二部分）" with slug "<slug>-2";
# the Markdown carries the heading as written, so a re-import numbers the parts the same way.
_PART_SUFFIX = re.compile(r"（第\s*\S+?\s*部分）$")


def _topic_heading(topic: Topic) -> str:
    if re.search(r"-\d+$", topic.slug):
        return _PART_SUFFIX.sub("", topic.name)
    return topic.name


def markdown_export(*, original: bool = False) -> str:
    """The bank in the seed's shape: ``# topic``, ``## <number>. <title>``, the answer indented below.

    The published version's body by default; ``original`` exports version 1 (the seed as
    imported). A body line starting with ``#`` is escaped (``\\#``) so it cannot be read
    back as a heading. Questions without the chosen version are left out.
    """
    lines: list[str] = []
    current_topic: int | None = None
    current_group: str | None = None
    previous_title = ""
    for question in _exported_questions():
        version = _version_for_export(question, original=original)
        if version is None:
            continue
        if question.topic_id != current_topic:
            if lines:
                lines.append("")
            lines.append(f"# {_topic_heading(question.topic)}")
            if question.topic.description.strip():
                lines.extend(["", *_indented(question.topic.description)])
            current_topic, current_group = question.topic_id, None
        if question.group and question.group != current_group:
            # A group heading has no answer of its own; it is written unless the group is
            # itself the question just written (then its heading already stands there).
            if question.group != previous_title:
                lines.extend(["", f"## {question.number.split('.')[0]}. {question.group}"])
            current_group = question.group
        previous_title = question.title
        level = "###" if question.group else "##"
        lines.extend(["", f"{level} {question.number}. {question.title}", ""])
        lines.extend(_indented(version.body))
    return "\n".join(lines).rstrip() + "\n"


def _indented(text: str) -> list[str]:
    """Answer lines indented as in the seed; a line starting with ``#`` is escaped, never a heading."""
    lines = []
    for line in text.strip().splitlines():
        escaped = _HEADING_START.sub(lambda m: m.group(1) + "\\#", line)
        lines.append(f"   {escaped}" if escaped.strip() else "")
    return lines


# --- Moodle XML ----------------------------------------------------------------------------------------------


def _text(parent: ET.Element, tag: str, value: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    ET.SubElement(element, "text").text = value
    return element


def _grader_info_html(version: ReferenceAnswerVersion) -> str:
    from portal.templatetags.portal import markdown_to_safe_html

    parts = [f"<h3>参考答案 (v{version.number})</h3>", str(markdown_to_safe_html(version.body))]
    if version.key_points:
        parts.append("<h3>评分要点 / Key points</h3><ol>")
        parts.extend(f"<li>{escape(point)}</li>" for point in version.key_points)
        parts.append("</ol>")
    if version.misconceptions:
        parts.append("<h3>常见误解 / Misconceptions</h3><ul>")
        parts.extend(f"<li>{escape(item)}</li>" for item in version.misconceptions)
        parts.append("</ul>")
    return "\n".join(parts)


def moodle_export(*, category_root: str = "LLM 面试题库") -> bytes:
    """Moodle XML: a category per topic, then its questions as essays with the reference as grader info."""

    quiz = ET.Element("quiz")
    current_topic: int | None = None
    for question in _exported_questions():
        version = _version_for_export(question, original=False)
        if version is None:
            continue
        if question.topic_id != current_topic:
            current_topic = question.topic_id
            category = ET.SubElement(quiz, "question", {"type": "category"})
            _text(category, "category", f"$course$/top/{category_root}/{question.topic.name}")
            _text(category, "info", escape(question.topic.name_en or question.topic.description), format="html")
        essay = ET.SubElement(quiz, "question", {"type": "essay"})
        _text(essay, "name", f"{question.number}. {question.title}"[:255])
        title_html = f"<p>{escape(question.title)}</p>"
        if question.title_en:
            title_html += f'<p lang="en"><em>{escape(question.title_en)}</em></p>'
        _text(essay, "questiontext", title_html, format="html")
        _text(essay, "generalfeedback", "", format="html")
        for tag, value in (
            ("defaultgrade", "100"),
            ("penalty", "0"),
            ("hidden", "0"),
            ("idnumber", f"{question.topic.slug}/{question.number}"),
            ("responseformat", "editor"),
            ("responserequired", "1"),
            ("responsefieldlines", "15"),
            ("attachments", "0"),
            ("attachmentsrequired", "0"),
        ):
            ET.SubElement(essay, tag).text = value
        _text(essay, "graderinfo", _grader_info_html(version), format="html")
        _text(essay, "responsetemplate", "", format="html")
        tags = ET.SubElement(essay, "tags")
        for tag in question.tags.all():
            _text(tags, "tag", tag.name)
    ET.indent(quiz)
    return ET.tostring(quiz, encoding="UTF-8", xml_declaration=True) + b"\n"
