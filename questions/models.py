"""The question bank: topics, questions, versioned reference answers and error reports.

Invariants live in the database: a version number is unique per question, at most one
version of a question is published, statuses are closed enums. Workflows (publishing,
reviewing, reporting) live in ``questions.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Topic(models.Model):
    """A section of the bank, e.g. 进阶面 or 微调面. ``slug`` is the stable import key."""

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Question(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        ARCHIVED = "archived", _("archived")

    class Difficulty(models.TextChoices):
        EASY = "easy", _("easy")
        MEDIUM = "medium", _("medium")
        HARD = "hard", _("hard")

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="questions", verbose_name=_("topic"))
    # The number as the source gives it ("3", "1.2"); unique within a topic. Questions
    # without a number in the source (the 微调面 lines) get their position ("12").
    number = models.CharField(_("number"), max_length=20)
    order = models.PositiveIntegerField(_("order"), default=0)
    # The grouping heading a sub-question sits under ("LLMs 复读机问题"), when that heading
    # has no answer of its own and is therefore not a question.
    group = models.CharField(_("group"), max_length=300, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent question"),
    )
    title = models.CharField(_("title (Chinese)"), max_length=500)
    title_en = models.CharField(_("title (English)"), max_length=500, blank=True)
    difficulty = models.CharField(_("difficulty"), max_length=10, choices=Difficulty.choices, default=Difficulty.MEDIUM)
    tags = models.ManyToManyField(Tag, blank=True, related_name="questions", verbose_name=_("tags"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source_file = models.CharField(_("source file"), max_length=300, blank=True)
    source_line = models.PositiveIntegerField(_("source line"), null=True, blank=True)
    # Normalised text (title, English title and published answer, segmented for Chinese)
    # that search matches against; maintained by the services that change its inputs.
    search_document = models.TextField(_("search document"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["topic__order", "topic_id", "order", "id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        constraints = [
            models.UniqueConstraint(fields=["topic", "number"], name="question_unique_number_per_topic"),
            models.CheckConstraint(condition=Q(status__in=["active", "archived"]), name="question_status_valid"),
            models.CheckConstraint(
                condition=Q(difficulty__in=["easy", "medium", "hard"]), name="question_difficulty_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["topic", "order"], name="question_topic_order_idx"),
            models.Index(fields=["status", "topic"], name="question_status_topic_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ReferenceAnswerVersion(models.Model):
    """One version of a question's reference answer and rubric. Immutable once submitted."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        IN_REVIEW = "in_review", _("in review")
        PUBLISHED = "published", _("published")
        SUPERSEDED = "superseded", _("superseded")
        REJECTED = "rejected", _("rejected")

    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="versions", verbose_name=_("question")
    )
    number = models.PositiveIntegerField(_("version number"))
    body = models.TextField(_("reference answer (Markdown)"))
    key_points = models.JSONField(_("key points"), default=list, blank=True)
    misconceptions = models.JSONField(_("misconceptions"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_versions",
        verbose_name=_("author"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviewed_versions",
        verbose_name=_("reviewer"),
    )
    review_comment = models.TextField(_("review comment"), blank=True)
    change_note = models.TextField(_("change note"), blank=True)
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revisions",
        verbose_name=_("based on"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        ordering = ["question_id", "number"]
        verbose_name = _("reference answer version")
        verbose_name_plural = _("reference answer versions")
        constraints = [
            models.UniqueConstraint(fields=["question", "number"], name="version_unique_number_per_question"),
            models.UniqueConstraint(
                fields=["question"],
                condition=Q(status="published"),
                name="version_one_published_per_question",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "in_review", "published", "superseded", "rejected"]),
                name="version_status_valid",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
        ]
        indexes = [models.Index(fields=["question", "status"], name="version_question_status_idx")]

    def __str__(self) -> str:
        return f"{self.question_id} v{self.number} ({self.status})"

    @property
    def is_editable(self) -> bool:
        """Only a draft may change; once submitted a version is frozen."""
        return self.status == self.Status.DRAFT


class Erratum(models.Model):
    """A reported error in a reference answer, triaged by experts."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        FIXED = "fixed", _("fixed")
        REJECTED = "rejected", _("rejected")

    class Severity(models.TextChoices):
        MINOR = "minor", _("minor")
        MAJOR = "major", _("major")
        CRITICAL = "critical", _("critical")

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="errata", verbose_name=_("question"))
    version = models.ForeignKey(
        ReferenceAnswerVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="errata",
        verbose_name=_("reported version"),
    )
    quote = models.TextField(_("quoted claim"))
    explanation = models.TextField(_("why it is wrong"))
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reported_errata",
        verbose_name=_("reporter"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    fixed_in = models.ForeignKey(
        ReferenceAnswerVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fixed_errata",
        verbose_name=_("fixed in version"),
    )
    resolution_note = models.TextField(_("resolution note"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resolved_errata",
        verbose_name=_("resolved by"),
    )
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("error report")
        verbose_name_plural = _("error reports")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["open", "fixed", "rejected"]), name="erratum_status_valid"),
            models.CheckConstraint(
                condition=Q(severity__in=["minor", "major", "critical"]), name="erratum_severity_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="fixed") | Q(fixed_in__isnull=False), name="erratum_fixed_names_version"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "question"], name="erratum_status_question_idx"),
            models.Index(fields=["reporter", "-created_at"], name="erratum_reporter_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.quote[:40]}"
