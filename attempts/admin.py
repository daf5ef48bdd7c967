"""Admin registrations for attempts, grades, reviews, assessments and webhooks."""

from django.contrib import admin

from attempts.models import (
    Assessment,
    AssessmentQuestion,
    Attempt,
    Grade,
    IdempotencyRecord,
    Invitation,
    RegradeRun,
    ReviewState,
    WebhookDelivery,
    WebhookEndpoint,
)


class GradeInline(admin.TabularInline):
    model = Grade
    fields = ["score", "is_current", "kind", "grader", "model", "reference_version", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "user", "invitation", "status", "mode", "created_at"]
    list_filter = ["status", "mode"]
    search_fields = ["answer", "question__title", "user__username"]
    list_select_related = ["question", "user", "invitation"]
    raw_id_fields = ["user", "invitation", "question", "reference_version"]
    inlines = [GradeInline]


@admin.register(Grade)
class GradeAdmin(admin.ModelAdmin):
    list_display = ["id", "attempt", "score", "is_current", "kind", "grader", "model", "created_at"]
    list_filter = ["is_current", "kind", "grader"]
    list_select_related = ["attempt"]
    raw_id_fields = ["attempt", "reference_version", "regrade_run", "created_by"]


@admin.register(RegradeRun)
class RegradeRunAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "target_version", "status", "total", "done", "failed", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["question", "target_version"]


@admin.register(ReviewState)
class ReviewStateAdmin(admin.ModelAdmin):
    list_display = ["user", "question", "due", "reps", "lapses", "last_rating"]
    raw_id_fields = ["user", "question", "last_attempt"]


class AssessmentQuestionInline(admin.TabularInline):
    model = AssessmentQuestion
    raw_id_fields = ["question"]
    extra = 0


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "time_limit_minutes", "pass_score", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["title"]
    inlines = [AssessmentQuestionInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["candidate_name", "candidate_email", "assessment", "status", "expires_at", "submitted_at"]
    list_filter = ["status"]
    search_fields = ["candidate_name", "candidate_email"]
    readonly_fields = ["token_hash", "token_prefix"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "created_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "key", "method", "path", "response_status", "created_at"]
