"""Attempts, grades, review scheduling, assessments, invitations and webhooks.

State machines (attempt status, invitation status, delivery status) are closed enums whose
transitions are guarded in ``attempts.services``; the database enforces the enums, one
current grade per attempt, scores within 0–100 and who an attempt belongs to.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from questions.models import Question, ReferenceAnswerVersion


class Attempt(models.Model):
    """A free-text answer to one question, by a user (practice) or a candidate (assessment)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        GRADING = "grading", _("grading")
        GRADED = "graded", _("graded")
        FAILED = "failed", _("failed")

    class Mode(models.TextChoices):
        PRACTICE = "practice", _("practice")
        ASSESSMENT = "assessment", _("assessment")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("user"),
    )
    invitation = models.ForeignKey(
        "Invitation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("invitation"),
    )
    question = models.ForeignKey(
        Question, on_delete=models.PROTECT, related_name="attempts", verbose_name=_("question")
    )
    answer = models.TextField(_("answer"))
    # The version published when the answer was submitted: what it is judged against.
    reference_version = models.ForeignKey(
        ReferenceAnswerVersion,
        on_delete=models.PROTECT,
        related_name="attempts",
        verbose_name=_("reference version"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    mode = models.CharField(_("mode"), max_length=12, choices=Mode.choices, default=Mode.PRACTICE)
    error_message = models.TextField(_("error"), blank=True)
    time_spent_s = models.PositiveIntegerField(_("time spent (s)"), null=True, blank=True)
    # How many times grading was started (claims) and when the task was last sent; the
    # sweeper uses ``enqueued_at`` and ``grading_started_at`` to find lost work.
    grading_tries = models.PositiveIntegerField(_("grading tries"), default=0)
    enqueued_at = models.DateTimeField(_("last sent to the queue"), null=True, blank=True)
    grading_started_at = models.DateTimeField(_("grading started at"), null=True, blank=True)
    graded_at = models.DateTimeField(_("graded at"), null=True, blank=True)
    # The request id of the submission, carried into the grading task's logs.
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "grading", "graded", "failed"]), name="attempt_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(mode="practice", user__isnull=False, invitation__isnull=True))
                | (Q(mode="assessment", user__isnull=True, invitation__isnull=False)),
                name="attempt_owner_matches_mode",
            ),
            models.UniqueConstraint(
                fields=["invitation", "question"],
                condition=Q(invitation__isnull=False),
                name="attempt_one_per_invitation_question",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="attempt_user_created_idx"),
            models.Index(fields=["user", "question"], name="attempt_user_question_idx"),
            models.Index(fields=["status", "updated_at"], name="attempt_status_updated_idx"),
            models.Index(fields=["reference_version", "status"], name="attempt_version_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Attempt #{self.pk} on {self.question_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.GRADED, self.Status.FAILED)


class RegradeRun(models.Model):
    """Regrading the attempts judged against superseded versions of a question.

    A dry run writes non-current grades; applying makes them current (old ones stay).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        READY = "ready", _("ready to apply")
        APPLIED = "applied", _("applied")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="regrade_runs")
    target_version = models.ForeignKey(ReferenceAnswerVersion, on_delete=models.PROTECT, related_name="regrade_runs")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(_("attempts to regrade"), default=0)
    done = models.PositiveIntegerField(_("regraded"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    error_message = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("regrade run")
        verbose_name_plural = _("regrade runs")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "ready", "applied", "failed", "cancelled"]),
                name="regrade_run_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Regrade #{self.pk} to v{self.target_version.number} ({self.status})"


class Grade(models.Model):
    """One judgement of an attempt. Exactly one grade per attempt is current."""

    class Kind(models.TextChoices):
        AUTO = "auto", _("automatic")
        OVERRIDE = "override", _("expert override")

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="grades", verbose_name=_("attempt"))
    reference_version = models.ForeignKey(
        ReferenceAnswerVersion,
        on_delete=models.PROTECT,
        related_name="grades",
        verbose_name=_("judged against version"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.AUTO)
    is_current = models.BooleanField(_("current"), default=False)
    score = models.PositiveSmallIntegerField(_("score"))
    # [{"point": str, "covered": bool, "evidence": str}], in rubric order.
    key_points = models.JSONField(_("key points"), default=list, blank=True)
    # [{"misconception": str, "evidence": str}]
    misconceptions = models.JSONField(_("misconceptions found"), default=list, blank=True)
    feedback = models.TextField(_("feedback"), blank=True)
    grader = models.CharField(_("grader"), max_length=40)  # "offline", "openai-compatible", "expert"
    model = models.CharField(_("model"), max_length=120, blank=True)
    prompt_version = models.CharField(_("prompt version"), max_length=40, blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    raw_response = models.TextField(_("raw response"), blank=True)
    regrade_run = models.ForeignKey(
        RegradeRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="grades",
        verbose_name=_("regrade run"),
    )
    # Why this grade replaced the previous one (regrade after a correction, expert override).
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="grades_given",
        verbose_name=_("given by"),
    )
    created_at = models.DateTimeField(_("graded at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        constraints = [
            models.UniqueConstraint(
                fields=["attempt"], condition=Q(is_current=True), name="grade_one_current_per_attempt"
            ),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="grade_score_0_100"),
            models.CheckConstraint(condition=Q(kind__in=["auto", "override"]), name="grade_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["attempt", "is_current"], name="grade_attempt_current_idx"),
            models.Index(fields=["reference_version", "is_current"], name="grade_version_current_idx"),
        ]

    def __str__(self) -> str:
        return f"Grade {self.score} for attempt {self.attempt_id}"


class ReviewState(models.Model):
    """FSRS scheduling state of one question for one user (spaced review)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_states")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="review_states")
    card = models.JSONField(_("FSRS card"), default=dict)  # fsrs.Card.to_dict()
    due = models.DateTimeField(_("due"))
    stability = models.FloatField(_("stability"), null=True, blank=True)
    difficulty = models.FloatField(_("difficulty"), null=True, blank=True)
    reps = models.PositiveIntegerField(_("reviews"), default=0)
    lapses = models.PositiveIntegerField(_("lapses"), default=0)
    last_rating = models.PositiveSmallIntegerField(_("last rating"), null=True, blank=True)
    last_reviewed_at = models.DateTimeField(_("last reviewed"), null=True, blank=True)
    last_attempt = models.ForeignKey(Attempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("review state")
        verbose_name_plural = _("review states")
        constraints = [
            models.UniqueConstraint(fields=["user", "question"], name="review_state_unique_user_question"),
            models.CheckConstraint(
                condition=Q(last_rating__isnull=True) | Q(last_rating__gte=1, last_rating__lte=4),
                name="review_state_rating_1_4",
            ),
        ]
        indexes = [models.Index(fields=["user", "due"], name="review_state_user_due_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.question_id} due {self.due:%Y-%m-%d}"


class Assessment(models.Model):
    """A timed set of questions HR sends to candidates."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        ARCHIVED = "archived", _("archived")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("owner")
    )
    questions = models.ManyToManyField(
        Question, through="AssessmentQuestion", related_name="assessments", verbose_name=_("questions")
    )
    time_limit_minutes = models.PositiveIntegerField(_("time limit (minutes)"))
    pass_score = models.PositiveSmallIntegerField(_("pass score"), default=60)
    show_results_to_candidate = models.BooleanField(_("show results to the candidate"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            models.CheckConstraint(condition=Q(pass_score__lte=100), name="assessment_pass_score_0_100"),
            models.CheckConstraint(
                condition=Q(time_limit_minutes__gte=1, time_limit_minutes__lte=24 * 60),
                name="assessment_time_limit_range",
            ),
            models.CheckConstraint(condition=Q(status__in=["active", "archived"]), name="assessment_status_valid"),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"], name="assessment_owner_idx")]

    def __str__(self) -> str:
        return self.title


class AssessmentQuestion(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="items")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="assessment_items")
    position = models.PositiveIntegerField(_("position"))

    class Meta:
        ordering = ["assessment_id", "position"]
        verbose_name = _("assessment question")
        verbose_name_plural = _("assessment questions")
        constraints = [
            models.UniqueConstraint(fields=["assessment", "position"], name="assessment_item_unique_position"),
            models.UniqueConstraint(fields=["assessment", "question"], name="assessment_item_unique_question"),
        ]

    def __str__(self) -> str:
        return f"{self.assessment_id}#{self.position}: {self.question_id}"


class Invitation(models.Model):
    """A candidate's single-use link to an assessment. Only the token's hash is stored."""

    class Status(models.TextChoices):
        PENDING = "pending", _("not started")
        STARTED = "started", _("in progress")
        SUBMITTED = "submitted", _("submitted, grading")
        COMPLETED = "completed", _("completed")
        REVOKED = "revoked", _("revoked")

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="invitations")
    candidate_name = models.CharField(_("candidate name"), max_length=200)
    candidate_email = models.EmailField(_("candidate email"))
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    token_prefix = models.CharField(_("token prefix"), max_length=12)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField(_("link expires at"))
    # Answers saved while the candidate types, keyed by question id; they become attempts
    # at the final submit.
    draft_answers = models.JSONField(_("saved answers"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "started", "submitted", "completed", "revoked"]),
                name="invitation_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["assessment", "status"], name="invitation_assessment_idx")]

    def __str__(self) -> str:
        return f"{self.candidate_name} → {self.assessment_id}"

    @property
    def deadline(self) -> datetime | None:
        """When the answers must be in: start plus the assessment's time limit."""
        if self.started_at is None:
            return None
        return self.started_at + timedelta(minutes=self.assessment.time_limit_minutes)

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.PENDING and self.expires_at <= timezone.now()


class WebhookEndpoint(models.Model):
    """A URL that receives signed event notifications for its owner's assessments."""

    class Event(models.TextChoices):
        INVITATION_COMPLETED = "invitation.completed", "invitation.completed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=500)
    # Kept in clear: the platform needs it to sign every delivery.
    secret = models.CharField(_("signing secret"), max_length=128)
    events = models.JSONField(_("events"), default=list)
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("delivered")
        FAILED = "failed", _("failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4)
    event = models.CharField(_("event"), max_length=60)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("delivery attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]), name="webhook_delivery_status_valid"
            ),
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_unique_event"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("key"), max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
