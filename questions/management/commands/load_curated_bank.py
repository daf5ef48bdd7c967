"""Apply the corrected question bank (``questions/data/curated_bank.json``) to the imported seed.

For every question the file names, the corrected reference answer becomes a new version that
goes through the same workflow an expert's edit does: created by a system editor, submitted,
approved by a different system reviewer (four-eyes), after which the errors it fixes are filed
against version 1 (the seed as imported) and resolved as fixed by the new version. The file is
validated as a whole before anything is written, and a run is one transaction: a bad file or a
refused step leaves the database as it was. A question whose corrected body is already among
its versions is skipped, so a second run creates nothing. The file format is in docs/content.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Max

from accounts.roles import Role, role_groups_ensure
from interview_platform.errors import ServiceError
from questions import services
from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic

DEFAULT_PATH = Path(settings.BASE_DIR) / "questions" / "data" / "curated_bank.json"
FORMAT = 1
EDITOR_USERNAME = "editorial"
REVIEWER_USERNAME = "editorial-review"
TAGS_MIN, TAGS_MAX = 1, 6


@dataclass(frozen=True)
class CuratedErratum:
    quote: str
    explanation: str
    severity: str


@dataclass(frozen=True)
class CuratedQuestion:
    topic: str
    number: str
    seed_title: str
    title_en: str
    difficulty: str
    tags: tuple[tuple[str, str], ...]
    body: str
    key_points: tuple[str, ...]
    misconceptions: tuple[str, ...]
    change_note: str
    errata: tuple[CuratedErratum, ...]

    @property
    def label(self) -> str:
        return f"{self.topic}/{self.number}"


@dataclass
class CuratedBank:
    topics: dict[str, str] = field(default_factory=dict)  # slug -> English name
    questions: list[CuratedQuestion] = field(default_factory=list)


# --- Reading and validating -------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CommandError(message)


def _text(value: Any, where: str, *, allow_blank: bool = False) -> str:
    _require(isinstance(value, str), f"{where} must be a string")
    _require(allow_blank or bool(value.strip()), f"{where} must not be empty")
    return value.strip()


def _texts(value: Any, where: str) -> tuple[str, ...]:
    _require(isinstance(value, list), f"{where} must be a list of strings")
    return tuple(_text(item, f"{where}[{index}]") for index, item in enumerate(value))


def _fields(value: Any, where: str, names: tuple[str, ...]) -> dict[str, Any]:
    _require(isinstance(value, dict), f"{where} must be an object")
    missing = [name for name in names if name not in value]
    _require(not missing, f"{where} lacks {', '.join(missing)}")
    return value


def bank_read(path: Path) -> CuratedBank:
    """Parse and check the file's own shape (nothing from the database). Raises CommandError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"file not found: {path}") from None
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise CommandError(f"{path} is not valid JSON: {error.msg} (line {error.lineno})") from None

    root = _fields(document, "the file", ("format", "topics", "questions"))
    _require(root["format"] == FORMAT, f"unsupported format {root['format']!r} (expected {FORMAT})")
    _require(isinstance(root["topics"], list), "topics must be a list")
    _require(isinstance(root["questions"], list) and root["questions"], "questions must be a non-empty list")

    bank = CuratedBank()
    for index, item in enumerate(root["topics"]):
        topic = _fields(item, f"topics[{index}]", ("slug", "name_en"))
        slug = _text(topic["slug"], f"topics[{index}].slug")
        _require(slug not in bank.topics, f"topic {slug} is listed twice")
        bank.topics[slug] = _text(topic["name_en"], f"topics[{index}].name_en")

    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(root["questions"]):
        bank.questions.append(_question_read(item, index))
        key = (bank.questions[-1].topic, bank.questions[-1].number)
        _require(key not in seen, f"question {key[0]}/{key[1]} is listed twice")
        seen.add(key)
    return bank


def _question_read(item: Any, index: int) -> CuratedQuestion:
    where = f"questions[{index}]"
    data = _fields(
        item, where, ("topic", "number", "seed_title", "title_en", "difficulty", "tags", "version", "errata")
    )
    topic = _text(data["topic"], f"{where}.topic")
    number = _text(str(data["number"]) if isinstance(data["number"], int) else data["number"], f"{where}.number")
    label = f"question {topic}/{number}"
    difficulty = _text(data["difficulty"], f"{label}: difficulty")
    _require(
        difficulty in Question.Difficulty.values,
        f"{label}: difficulty {difficulty!r} is not one of {', '.join(Question.Difficulty.values)}",
    )
    _require(isinstance(data["tags"], list), f"{label}: tags must be a list")
    _require(TAGS_MIN <= len(data["tags"]) <= TAGS_MAX, f"{label}: tags must hold {TAGS_MIN}–{TAGS_MAX} entries")
    tags = []
    for tag_index, tag in enumerate(data["tags"]):
        tag = _fields(tag, f"{label}: tags[{tag_index}]", ("slug", "name"))
        tags.append((_text(tag["slug"], f"{label}: tag slug"), _text(tag["name"], f"{label}: tag name")))

    version = _fields(data["version"], f"{label}: version", ("body", "key_points", "misconceptions", "change_note"))
    key_points = _texts(version["key_points"], f"{label}: key_points")
    _require(
        services.KEY_POINTS_MIN <= len(key_points) <= services.KEY_POINTS_MAX,
        f"{label}: key_points must hold {services.KEY_POINTS_MIN}–{services.KEY_POINTS_MAX} statements "
        f"(found {len(key_points)})",
    )
    misconceptions = _texts(version["misconceptions"], f"{label}: misconceptions")
    _require(bool(misconceptions), f"{label}: misconceptions must not be empty")
    try:
        # The workflow's own rules (lengths, duplicates), checked before anything is written.
        services.version_content_validate(body=version["body"], key_points=key_points, misconceptions=misconceptions)
    except ServiceError as error:
        field_name = next(iter(error.field_errors), "version")
        raise CommandError(f"{label}: {field_name}: {error.message}") from None

    _require(isinstance(data["errata"], list), f"{label}: errata must be a list")
    errata = []
    for erratum_index, entry in enumerate(data["errata"]):
        entry = _fields(entry, f"{label}: errata[{erratum_index}]", ("quote", "explanation", "severity"))
        severity = _text(entry["severity"], f"{label}: errata[{erratum_index}].severity")
        _require(
            severity in Erratum.Severity.values,
            f"{label}: severity {severity!r} is not one of {', '.join(Erratum.Severity.values)}",
        )
        errata.append(
            CuratedErratum(
                # The quote is matched verbatim, so only surrounding whitespace is trimmed.
                quote=_text(entry["quote"], f"{label}: errata[{erratum_index}].quote"),
                explanation=_text(entry["explanation"], f"{label}: errata[{erratum_index}].explanation"),
                severity=severity,
            )
        )
    return CuratedQuestion(
        topic=topic,
        number=number,
        seed_title=_text(data["seed_title"], f"{label}: seed_title"),
        title_en=_text(data["title_en"], f"{label}: title_en"),
        difficulty=difficulty,
        tags=tuple(tags),
        body=_text(version["body"], f"{label}: body"),
        key_points=key_points,
        misconceptions=misconceptions,
        change_note=_text(version["change_note"], f"{label}: change_note"),
        errata=tuple(errata),
    )


def _title_key(title: str) -> str:
    """Titles compare without whitespace or case: the importer may normalise spacing."""
    return "".join(title.split()).casefold()


@dataclass(frozen=True)
class Target:
    """A curated question matched to its row and its seed version."""

    curated: CuratedQuestion
    question: Question
    seed_version: ReferenceAnswerVersion


def bank_match(bank: CuratedBank) -> tuple[dict[str, Topic], list[Target]]:
    """Match the file to the imported bank; any mismatch raises CommandError naming it."""
    topic_slugs = set(bank.topics) | {curated.topic for curated in bank.questions}
    topics = {topic.slug: topic for topic in Topic.objects.filter(slug__in=topic_slugs)}
    unknown = sorted(topic_slugs - set(topics))
    if unknown:
        raise CommandError(f"unknown topic {unknown[0]} (import the seed first: manage.py import_questions)")

    questions = {
        (question.topic.slug, question.number): question
        for question in Question.objects.filter(topic__slug__in=topic_slugs).select_related("topic")
    }
    seed_versions = {
        version.question_id: version
        for version in ReferenceAnswerVersion.objects.filter(question__topic__slug__in=topic_slugs, number=1)
    }
    targets = []
    for curated in bank.questions:
        question = questions.get((curated.topic, curated.number))
        _require(question is not None, f"unknown question {curated.label}")
        _require(
            _title_key(question.title) == _title_key(curated.seed_title),
            f"question {curated.label}: seed title {curated.seed_title!r} does not match {question.title!r}",
        )
        seed_version = seed_versions.get(question.pk)
        _require(seed_version is not None, f"question {curated.label} has no version 1")
        for erratum in curated.errata:
            _require(
                erratum.quote in seed_version.body,
                f"question {curated.label}: quote not found in version 1: {erratum.quote[:60]!r}",
            )
        targets.append(Target(curated=curated, question=question, seed_version=seed_version))
    return topics, targets


# --- Applying ---------------------------------------------------------------------------


def system_account_ensure(*, username: str, role: str, first_name: str) -> AbstractBaseUser:
    """A role account the curation workflow runs as. It cannot sign in: its password is unusable."""
    groups = role_groups_ensure()
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"first_name": first_name})
    if created or user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(groups[role])
    return user


def _question_metadata_apply(*, question: Question, curated: CuratedQuestion) -> None:
    question.title_en = curated.title_en
    question.difficulty = curated.difficulty
    question.full_clean()
    question.save(update_fields=["title_en", "difficulty", "updated_at"])
    tags = []
    for slug, name in curated.tags:
        tag, _created = Tag.objects.get_or_create(slug=slug, defaults={"name": name})
        tags.append(tag)
    question.tags.add(*tags)


def question_correction_apply(
    *, target: Target, editor: AbstractBaseUser, reviewer: AbstractBaseUser
) -> ReferenceAnswerVersion | None:
    """Publish the corrected version of one question and file its errata; None when already there."""
    curated, question = target.curated, target.question
    if question.versions.filter(body=curated.body).exists():
        return None
    _question_metadata_apply(question=question, curated=curated)
    version = services.reference_version_create(
        question=question,
        author=editor,
        base_version=question.versions.aggregate(latest=Max("number"))["latest"] or 0,
        body=curated.body,
        key_points=list(curated.key_points),
        misconceptions=list(curated.misconceptions),
        change_note=curated.change_note,
    )
    version = services.reference_version_submit(version=version, actor=editor)
    # The errors are reported against the seed version before the correction is published
    # (the order a reader's report and an expert's fix happen in); publishing then resolves them.
    errata = [
        services.erratum_report(
            question=question,
            reporter=editor,
            quote=entry.quote,
            explanation=entry.explanation,
            severity=entry.severity,
            version=target.seed_version,
        )
        for entry in curated.errata
    ]
    version = services.reference_version_approve(
        version=version, reviewer=reviewer, comment="Checked against the seed and current practice (2026)."
    )
    for erratum in errata:
        services.erratum_resolve(
            erratum=erratum,
            actor=reviewer,
            status=Erratum.Status.FIXED,
            fixed_in=version,
            note=f"Fixed in version {version.number}.",
        )
    return version


class Command(BaseCommand):
    help = "Publish the corrected reference answers, rubrics and error reports of the curated bank file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="Curated bank JSON (default: shipped)")

    def handle(self, *args: Any, **options: Any) -> None:
        bank = bank_read(Path(options["path"]))
        created = skipped = errata = 0
        try:
            with transaction.atomic():
                topics, targets = bank_match(bank)
                editor = system_account_ensure(username=EDITOR_USERNAME, role=Role.EXPERT, first_name="Editorial")
                reviewer = system_account_ensure(
                    username=REVIEWER_USERNAME, role=Role.REVIEWER, first_name="Editorial review"
                )
                for slug, name_en in bank.topics.items():
                    if topics[slug].name_en != name_en:
                        topics[slug].name_en = name_en
                        topics[slug].save(update_fields=["name_en", "updated_at"])
                for target in targets:
                    version = question_correction_apply(target=target, editor=editor, reviewer=reviewer)
                    if version is None:
                        skipped += 1
                        if options["verbosity"] >= 2:
                            self.stdout.write(f"  unchanged {target.curated.label}: corrected version already present")
                        continue
                    created += 1
                    fixed = len(target.curated.errata)
                    errata += fixed
                    self.stdout.write(
                        f"  published {target.curated.label} v{version.number} "
                        f"({fixed} error{'' if fixed == 1 else 's'} fixed)"
                    )
        except ServiceError as error:
            raise CommandError(f"refused: {error.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Curated bank: {created} corrected versions published, {errata} error reports filed and fixed, "
                f"{skipped} questions unchanged."
            )
        )
