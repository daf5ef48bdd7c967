"""Workflows of the question bank: versioned reference answers and error reports.

Version life cycle (guarded here, enforced further by database constraints)::

    draft ──submit──▶ in_review ──approve──▶ published ──(a later approval)──▶ superseded
                          └──────reject───▶ rejected

* A draft may change, only by its author. From ``in_review`` on, a version is frozen: a
  change is a new version (``reference_version_create`` or ``reference_version_revert``).
* A new version names the version it was based on (``base_version``); it must be the
  question's latest number. That is how two experts editing the same question are told
  apart: the second save is refused with ``stale_version`` (409), never silently applied.
* Four eyes: nobody approves (or rejects) a version they wrote, whatever their roles.
* Approval publishes and supersedes the previous published version in one transaction,
  holding the question's row lock, so two concurrent approvals cannot both publish.

Every function raises ``ServiceError`` on a refused operation; ``code`` values are stable:
``permission_denied`` (403), ``stale_version`` (409), ``invalid_state`` (409),
``four_eyes`` (403), ``invalid`` (400, with ``field_errors``), ``duplicate`` (409),
``already_resolved`` (409).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Role, UserLike, is_expert, is_reviewer, user_has_role
from interview_platform.errors import ServiceError
from questions.models import Erratum, Question, ReferenceAnswerVersion
from questions.search import search_document_build

Status = ReferenceAnswerVersion.Status

BODY_MAX_CHARS = 50_000
CHANGE_NOTE_MAX_CHARS = 2_000
KEY_POINTS_MIN = 3
KEY_POINTS_MAX = 6
KEY_POINT_MAX_CHARS = 300
MISCONCEPTIONS_MAX = 20
MISCONCEPTION_MAX_CHARS = 500
QUOTE_MAX_CHARS = 2_000
EXPLANATION_MIN_CHARS = 5
EXPLANATION_MAX_CHARS = 5_000
RESOLUTION_NOTE_MAX_CHARS = 2_000


# --- Validation helpers ------------------------------------------------------------------


def _require(predicate: Callable[[UserLike], bool], user: UserLike, message: str) -> None:
    if user is None or not predicate(user):
        raise ServiceError(message, code="permission_denied", status_code=403)


def _invalid(field_errors: dict[str, list[str]]) -> ServiceError:
    first = next(iter(field_errors.values()))[0]
    return ServiceError(first, code="invalid", field_errors=field_errors)


def _string_list(
    value: Any, *, field: str, min_items: int, max_items: int, max_chars: int, errors: dict[str, list[str]]
) -> list[str]:
    if not isinstance(value, list | tuple):
        errors[field] = [_("Give a list of short statements.")]
        return []
    items: list[str] = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, str) or not item.strip():
            errors[field] = [_("Item %(index)d is empty.") % {"index": index}]
            return []
        text = " ".join(item.split())
        if len(text) > max_chars:
            errors[field] = [
                _("Item %(index)d is longer than %(max)d characters.") % {"index": index, "max": max_chars}
            ]
            return []
        items.append(text)
    if len(set(items)) != len(items):
        errors[field] = [_("The same statement appears twice.")]
        return []
    if not (min_items <= len(items) <= max_items):
        if min_items == max_items == 0:
            errors[field] = [_("Must be empty.")]
        elif min_items == 0:
            errors[field] = [_("At most %(max)d items.") % {"max": max_items}]
        else:
            errors[field] = [
                _("Give between %(min)d and %(max)d items (got %(count)d).")
                % {"min": min_items, "max": max_items, "count": len(items)}
            ]
        return []
    return items


def version_content_validate(
    *, body: Any, key_points: Any, misconceptions: Any, allow_empty_key_points: bool = False
) -> dict[str, Any]:
    """Clean a version's content or raise ``ServiceError`` naming every bad field.

    Key points are the grading rubric: 3–6 short statements. Only an imported version 1
    (the seed, which had no rubric) may have none.
    """
    errors: dict[str, list[str]] = {}
    cleaned_body = body.strip() if isinstance(body, str) else ""
    if not cleaned_body:
        errors["body"] = [_("The reference answer must not be empty.")]
    elif len(cleaned_body) > BODY_MAX_CHARS:
        errors["body"] = [_("The reference answer is longer than %(max)d characters.") % {"max": BODY_MAX_CHARS}]
    points_given = isinstance(key_points, list | tuple) and len(key_points) > 0
    points = _string_list(
        key_points,
        field="key_points",
        min_items=0 if (allow_empty_key_points and not points_given) else KEY_POINTS_MIN,
        max_items=KEY_POINTS_MAX,
        max_chars=KEY_POINT_MAX_CHARS,
        errors=errors,
    )
    wrong = _string_list(
        misconceptions if misconceptions is not None else [],
        field="misconceptions",
        min_items=0,
        max_items=MISCONCEPTIONS_MAX,
        max_chars=MISCONCEPTION_MAX_CHARS,
        errors=errors,
    )
    if errors:
        raise _invalid(errors)
    return {"body": cleaned_body, "key_points": points, "misconceptions": wrong}


def _change_note_clean(change_note: Any) -> str:
    note = change_note.strip() if isinstance(change_note, str) else ""
    if not note:
        raise _invalid({"change_note": [_("Say what changed and why (a change note is required).")]})
    if len(note) > CHANGE_NOTE_MAX_CHARS:
        raise _invalid({"change_note": [_("At most %(max)d characters.") % {"max": CHANGE_NOTE_MAX_CHARS}]})
    return note


def _question_lock(question: Question) -> Question:
    """Lock the question row: every version write of one question is serialised on it."""
    return Question.objects.select_for_update().get(pk=question.pk)


def _version_lock(version: ReferenceAnswerVersion) -> ReferenceAnswerVersion:
    return ReferenceAnswerVersion.objects.select_for_update(of=("self",)).select_related("question").get(pk=version.pk)


def _latest_number(question: Question) -> int:
    latest = question.versions.order_by("-number").values_list("number", flat=True).first()
    return latest or 0


def _stale(current: int, given: int | None) -> ServiceError:
    return ServiceError(
        _(
            "Someone else changed this question meanwhile: the latest version is now v%(current)d, "
            "you edited v%(given)s. Reload, review their change and edit again."
        )
        % {"current": current, "given": given if given else "—"},
        code="stale_version",
        status_code=409,
        extra={"current_version": current},
    )


def _state_error(version: ReferenceAnswerVersion, action: str) -> ServiceError:
    return ServiceError(
        _("Version v%(number)d is %(status)s; it cannot be %(action)s.")
        % {"number": version.number, "status": version.get_status_display(), "action": action},
        code="invalid_state",
        status_code=409,
    )


# --- Reference versions --------------------------------------------------------------------


@transaction.atomic
def reference_version_create(
    *,
    question: Question,
    author: UserLike,
    body: str,
    key_points: Sequence[str],
    misconceptions: Sequence[str],
    change_note: str,
    base_version: int | None,
) -> ReferenceAnswerVersion:
    """A new draft numbered latest+1, ``based_on`` the latest version.

    ``base_version`` is the number the author started from (``None``/0 for a question
    without versions). If it is not the latest any more, raises ``stale_version`` (409)
    with ``extra={"current_version": n}``.
    """
    _require(is_expert, author, _("Only experts may propose reference answers."))
    note = _change_note_clean(change_note)
    locked = _question_lock(question)
    current = _latest_number(locked)
    if (base_version or 0) != current:
        raise _stale(current, base_version)
    content = version_content_validate(
        body=body, key_points=key_points, misconceptions=misconceptions, allow_empty_key_points=current == 0
    )
    base = locked.versions.filter(number=current).first() if current else None
    return ReferenceAnswerVersion.objects.create(
        question=locked,
        number=current + 1,
        status=Status.DRAFT,
        author=author,
        change_note=note,
        based_on=base,
        **content,
    )


@transaction.atomic
def reference_version_update_draft(
    *,
    version: ReferenceAnswerVersion,
    actor: UserLike,
    body: str,
    key_points: Sequence[str],
    misconceptions: Sequence[str],
    change_note: str,
) -> ReferenceAnswerVersion:
    """Change a draft in place: only drafts, only by their author."""
    _require(is_expert, actor, _("Only experts may edit reference answers."))
    locked = _version_lock(version)
    if locked.status != Status.DRAFT:
        raise _state_error(locked, _("edited (submitted versions are immutable; create a new version)"))
    if locked.author_id != getattr(actor, "pk", None):
        raise ServiceError(_("Only the author may edit a draft."), code="permission_denied", status_code=403)
    content = version_content_validate(
        body=body, key_points=key_points, misconceptions=misconceptions, allow_empty_key_points=locked.number == 1
    )
    locked.change_note = _change_note_clean(change_note)
    for field, value in content.items():
        setattr(locked, field, value)
    locked.save(update_fields=["body", "key_points", "misconceptions", "change_note", "updated_at"])
    return locked


@transaction.atomic
def reference_version_submit(*, version: ReferenceAnswerVersion, actor: UserLike) -> ReferenceAnswerVersion:
    """draft → in_review, by its author (or an admin). Frozen from here on."""
    _require(is_expert, actor, _("Only experts may submit reference answers."))
    locked = _version_lock(version)
    if locked.status != Status.DRAFT:
        raise _state_error(locked, _("submitted"))
    if locked.author_id != getattr(actor, "pk", None) and not user_has_role(actor, Role.ADMIN):
        raise ServiceError(_("Only the author may submit a draft."), code="permission_denied", status_code=403)
    # The rubric rules apply again: a revert may have copied an imported version without one.
    version_content_validate(
        body=locked.body,
        key_points=locked.key_points,
        misconceptions=locked.misconceptions,
        allow_empty_key_points=locked.number == 1,
    )
    locked.status = Status.IN_REVIEW
    locked.submitted_at = timezone.now()
    locked.save(update_fields=["status", "submitted_at", "updated_at"])
    return locked


def _four_eyes(version: ReferenceAnswerVersion, reviewer: UserLike, action: str) -> None:
    if version.author_id is not None and version.author_id == getattr(reviewer, "pk", None):
        raise ServiceError(
            _("You wrote v%(number)d; another reviewer must %(action)s it (four-eyes rule).")
            % {"number": version.number, "action": action},
            code="four_eyes",
            status_code=403,
        )


def question_search_document_refresh(*, question: Question, published: ReferenceAnswerVersion | None) -> None:
    """Rebuild ``Question.search_document`` from its title, English title, tags and published answer."""
    tags = list(question.tags.values_list("name", flat=True))
    document = search_document_build(
        parts=[question.title, question.title_en, *tags, published.body if published else ""]
    )
    Question.objects.filter(pk=question.pk).update(search_document=document, updated_at=timezone.now())
    question.search_document = document


def attempts_graded_against_superseded_count(*, question: Question) -> int:
    """Attempts of ``question`` whose current grade was judged against a superseded version."""
    from attempts.models import Grade

    return (
        Grade.objects.filter(
            attempt__question=question,
            is_current=True,
            reference_version__status=Status.SUPERSEDED,
        )
        .values("attempt_id")
        .distinct()
        .count()
    )


@transaction.atomic
def reference_version_approve(
    *, version: ReferenceAnswerVersion, reviewer: UserLike, comment: str = ""
) -> ReferenceAnswerVersion:
    """in_review → published; the previously published version → superseded, atomically.

    Protocol:
    1. lock the question row (serialises approvals of one question);
    2. lock and re-read the version, check its state, four-eyes and that no newer version
       is already published (approving an older one would roll the bank back);
    3. supersede the published version, then publish this one (the partial unique index
       allows one published version per question at every statement);
    4. rebuild the question's search document.

    The returned version carries ``superseded_attempt_count``: how many attempts are now
    graded against a superseded version (the admin offers to regrade them).
    """
    _require(is_reviewer, reviewer, _("Only reviewers may approve reference answers."))
    question = _question_lock(version.question)
    locked = _version_lock(version)
    if locked.status != Status.IN_REVIEW:
        raise _state_error(locked, _("approved"))
    _four_eyes(locked, reviewer, _("approve"))
    previous = question.versions.select_for_update().filter(status=Status.PUBLISHED).first()
    if previous is not None and previous.number > locked.number:
        raise ServiceError(
            _("v%(newer)d is already published; v%(number)d is older and cannot replace it.")
            % {"newer": previous.number, "number": locked.number},
            code="stale_version",
            status_code=409,
            extra={"current_version": _latest_number(question)},
        )
    now = timezone.now()
    if previous is not None:
        previous.status = Status.SUPERSEDED
        previous.save(update_fields=["status", "updated_at"])
    locked.status = Status.PUBLISHED
    locked.reviewer = reviewer
    locked.reviewed_at = now
    locked.published_at = now
    locked.review_comment = (comment or "").strip()[:CHANGE_NOTE_MAX_CHARS]
    locked.save(update_fields=["status", "reviewer", "reviewed_at", "published_at", "review_comment", "updated_at"])
    question_search_document_refresh(question=question, published=locked)
    locked.superseded_attempt_count = attempts_graded_against_superseded_count(question=question)
    return locked


@transaction.atomic
def reference_version_reject(
    *, version: ReferenceAnswerVersion, reviewer: UserLike, comment: str
) -> ReferenceAnswerVersion:
    """in_review → rejected, with the reviewer's reason (required)."""
    _require(is_reviewer, reviewer, _("Only reviewers may reject reference answers."))
    reason = comment.strip() if isinstance(comment, str) else ""
    if not reason:
        raise _invalid({"comment": [_("Say why the version is rejected.")]})
    locked = _version_lock(version)
    if locked.status != Status.IN_REVIEW:
        raise _state_error(locked, _("rejected"))
    _four_eyes(locked, reviewer, _("reject"))
    now = timezone.now()
    locked.status = Status.REJECTED
    locked.reviewer = reviewer
    locked.reviewed_at = now
    locked.review_comment = reason[:CHANGE_NOTE_MAX_CHARS]
    locked.save(update_fields=["status", "reviewer", "reviewed_at", "review_comment", "updated_at"])
    return locked


@transaction.atomic
def reference_version_revert(
    *, question: Question, to_version: int, author: UserLike, change_note: str
) -> ReferenceAnswerVersion:
    """A new draft copying version ``to_version``; nothing already written changes."""
    _require(is_expert, author, _("Only experts may revert reference answers."))
    note = _change_note_clean(change_note)
    locked = _question_lock(question)
    source = locked.versions.filter(number=to_version).first()
    if source is None:
        raise _invalid({"to_version": [_("This question has no version v%(number)s.") % {"number": to_version}]})
    if source.status == Status.DRAFT:
        raise _invalid({"to_version": [_("A draft cannot be reverted to; only submitted versions.")]})
    return ReferenceAnswerVersion.objects.create(
        question=locked,
        number=_latest_number(locked) + 1,
        status=Status.DRAFT,
        author=author,
        change_note=note,
        based_on=source,
        body=source.body,
        key_points=list(source.key_points),
        misconceptions=list(source.misconceptions),
    )


# --- Error reports ---------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def erratum_quote_found(erratum: Erratum) -> bool | None:
    """Whether the quoted claim appears in the reported version (whitespace and case ignored).

    Reports are accepted either way (a reader may paraphrase or quote the title); the admin
    shows this so experts see at once whether the quote is literal. ``None``: no version.
    """
    if erratum.version is None:
        return None
    return _normalise(erratum.quote) in _normalise(erratum.version.body)


@transaction.atomic
def erratum_report(
    *,
    question: Question,
    reporter: UserLike,
    quote: str,
    explanation: str,
    severity: str = Erratum.Severity.MAJOR,
    version: ReferenceAnswerVersion | None = None,
) -> Erratum:
    """Record an error report on a version (the published one unless named).

    Anyone signed in may report. The same reporter reporting the same quote on the same
    question while the first report is open is refused (``duplicate``).
    """
    if reporter is None or not reporter.is_authenticated:
        raise ServiceError(_("Sign in to report an error."), code="permission_denied", status_code=403)
    errors: dict[str, list[str]] = {}
    quote_text = quote.strip() if isinstance(quote, str) else ""
    explanation_text = explanation.strip() if isinstance(explanation, str) else ""
    if not quote_text:
        errors["quote"] = [_("Quote the claim that is wrong.")]
    elif len(quote_text) > QUOTE_MAX_CHARS:
        errors["quote"] = [_("At most %(max)d characters.") % {"max": QUOTE_MAX_CHARS}]
    if len(explanation_text) < EXPLANATION_MIN_CHARS:
        errors["explanation"] = [
            _("Explain why it is wrong (at least %(min)d characters).") % {"min": EXPLANATION_MIN_CHARS}
        ]
    elif len(explanation_text) > EXPLANATION_MAX_CHARS:
        errors["explanation"] = [_("At most %(max)d characters.") % {"max": EXPLANATION_MAX_CHARS}]
    if severity not in Erratum.Severity.values:
        errors["severity"] = [_("Choose minor, major or critical.")]
    if version is None:
        version = question.versions.filter(status=Status.PUBLISHED).first()
    elif version.question_id != question.pk:
        errors["version"] = [_("That version belongs to another question.")]
    if errors:
        raise _invalid(errors)
    duplicate = Erratum.objects.filter(
        question=question, reporter=reporter, status=Erratum.Status.OPEN, quote=quote_text
    ).exists()
    if duplicate:
        raise ServiceError(
            _("You already reported this quote; experts are looking at it."), code="duplicate", status_code=409
        )
    return Erratum.objects.create(
        question=question,
        version=version,
        quote=quote_text,
        explanation=explanation_text,
        severity=severity,
        reporter=reporter,
    )


@transaction.atomic
def erratum_resolve(
    *,
    erratum: Erratum,
    actor: UserLike,
    status: str,
    fixed_in: ReferenceAnswerVersion | int | None = None,
    note: str = "",
) -> Erratum:
    """Close an open report: ``fixed`` by a version of the same question, or ``rejected`` with a reason.

    ``fixed_in`` is a version or its number. The fixing version must have been submitted
    (in review, published or since superseded) and be newer than the reported one.
    """
    _require(is_expert, actor, _("Only experts may triage error reports."))
    locked = Erratum.objects.select_for_update(of=("self",)).select_related("version", "question").get(pk=erratum.pk)
    if locked.status != Erratum.Status.OPEN:
        raise ServiceError(
            _("This report is already %(status)s.") % {"status": locked.get_status_display()},
            code="already_resolved",
            status_code=409,
        )
    note_text = note.strip() if isinstance(note, str) else ""
    if len(note_text) > RESOLUTION_NOTE_MAX_CHARS:
        raise _invalid({"note": [_("At most %(max)d characters.") % {"max": RESOLUTION_NOTE_MAX_CHARS}]})
    fixing: ReferenceAnswerVersion | None = None
    if status == Erratum.Status.FIXED:
        if isinstance(fixed_in, int):
            fixing = locked.question.versions.filter(number=fixed_in).first()
        elif isinstance(fixed_in, ReferenceAnswerVersion) and fixed_in.question_id == locked.question_id:
            fixing = fixed_in
        if fixing is None:
            raise _invalid({"fixed_in": [_("Name the version of this question that fixes the error.")]})
        if fixing.status in (Status.DRAFT, Status.REJECTED):
            raise _invalid({"fixed_in": [_("The fixing version must be submitted (in review or published).")]})
        if locked.version is not None and fixing.number <= locked.version.number:
            raise _invalid(
                {"fixed_in": [_("The fix must be newer than the reported v%(n)d.") % {"n": locked.version.number}]}
            )
    elif status == Erratum.Status.REJECTED:
        if not note_text:
            raise _invalid({"note": [_("Say why the report is rejected; the reporter will read it.")]})
    else:
        raise _invalid({"status": [_("Choose fixed or rejected.")]})
    locked.status = status
    locked.fixed_in = fixing
    locked.resolution_note = note_text
    locked.resolved_by = actor
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["status", "fixed_in", "resolution_note", "resolved_by", "resolved_at"])
    return locked


def erratum_list_for_reporter(*, user: UserLike) -> QuerySet[Erratum]:
    """A reporter's error reports with their outcome, newest first (selector)."""
    if not user.is_authenticated:
        return Erratum.objects.none()
    return (
        Erratum.objects.filter(reporter=user)
        .select_related("question", "version", "fixed_in", "resolved_by")
        .order_by("-created_at", "-id")
    )
