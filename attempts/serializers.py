"""API serializers for attempts, grades, reviews, assessments, invitations, webhooks, candidates."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from attempts.assessments import grade_provenance
from attempts.models import (
    Assessment,
    Attempt,
    Grade,
    Invitation,
    ReviewState,
    WebhookDelivery,
    WebhookEndpoint,
)
from attempts.selectors import attempt_current_grade
from interview_platform.api.fields import StrictCharField, id_field

# --- Grades and attempts -------------------------------------------------------------


class KeyPointSerializer(serializers.Serializer):
    point = serializers.CharField()
    covered = serializers.BooleanField()
    evidence = serializers.CharField(allow_blank=True)


class MisconceptionSerializer(serializers.Serializer):
    misconception = serializers.CharField()
    evidence = serializers.CharField(allow_blank=True)


class GraderSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="offline, openai-compatible or expert")
    model = serializers.CharField(allow_blank=True)
    prompt_version = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=Grade.Kind.choices)
    reference_version = serializers.IntegerField(help_text="The reference version number judged against.")


def key_points_data(raw: Any) -> list[dict[str, Any]]:
    """Grades store key points as JSON; normalise them to the documented shape."""
    rows = []
    for item in raw or []:
        if isinstance(item, dict):
            rows.append(
                {
                    "point": str(item.get("point", "")),
                    "covered": bool(item.get("covered")),
                    "evidence": str(item.get("evidence") or ""),
                }
            )
    return rows


def misconceptions_data(raw: Any) -> list[dict[str, Any]]:
    rows = []
    for item in raw or []:
        if isinstance(item, dict):
            rows.append(
                {"misconception": str(item.get("misconception", "")), "evidence": str(item.get("evidence") or "")}
            )
        elif isinstance(item, str):
            rows.append({"misconception": item, "evidence": ""})
    return rows


def grader_data(grade: Grade) -> dict[str, Any]:
    provenance = grade_provenance(grade)
    return {key: provenance[key] for key in GraderSerializer().fields}


class GradeSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=100)
    key_points = KeyPointSerializer(many=True)
    misconceptions = MisconceptionSerializer(many=True)
    feedback = serializers.CharField(allow_blank=True)
    grader = GraderSerializer()
    reason = serializers.CharField(allow_blank=True)
    graded_at = serializers.DateTimeField()

    def to_representation(self, grade: Grade) -> dict[str, Any]:
        return {
            "score": grade.score,
            "key_points": key_points_data(grade.key_points),
            "misconceptions": misconceptions_data(grade.misconceptions),
            "feedback": grade.feedback,
            "grader": grader_data(grade),
            "reason": grade.reason,
            "graded_at": serializers.DateTimeField().to_representation(grade.created_at),
        }


class AttemptQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    topic = serializers.CharField()


class AttemptSerializer(serializers.ModelSerializer):
    question = serializers.SerializerMethodField()
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reference_version = serializers.IntegerField(source="reference_version.number", read_only=True)
    error = serializers.SerializerMethodField()
    grade = serializers.SerializerMethodField()

    class Meta:
        model = Attempt
        fields = [
            "id",
            "question",
            "user",
            "answer",
            "status",
            "mode",
            "time_spent_s",
            "reference_version",
            "created_at",
            "graded_at",
            "error",
            "grade",
        ]

    @extend_schema_field(AttemptQuestionSerializer)
    def get_question(self, attempt: Attempt) -> dict[str, Any]:
        question = attempt.question
        return {"id": question.pk, "title": question.title, "topic": question.topic.name}

    def get_error(self, attempt: Attempt) -> str:
        """Why grading failed (empty unless ``status`` is ``failed``)."""
        return attempt.error_message if attempt.status == Attempt.Status.FAILED else ""

    @extend_schema_field(GradeSerializer(allow_null=True))
    def get_grade(self, attempt: Attempt) -> dict[str, Any] | None:
        grade = attempt_current_grade(attempt)
        return GradeSerializer(grade).data if grade is not None else None


class AttemptCreateSerializer(serializers.Serializer):
    question = id_field(help_text="The question's id.")
    answer = StrictCharField(max_length=settings.ANSWER_MAX_CHARS, help_text="Free text, 1–20,000 characters.")
    time_spent_s = serializers.IntegerField(min_value=0, max_value=24 * 3600, required=False, allow_null=True)


class ReviewDueSerializer(serializers.ModelSerializer):
    question = serializers.SerializerMethodField()
    last_attempt = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = ReviewState
        fields = ["question", "due", "reps", "lapses", "last_rating", "last_reviewed_at", "last_attempt"]

    @extend_schema_field(AttemptQuestionSerializer)
    def get_question(self, state: ReviewState) -> dict[str, Any]:
        return {"id": state.question_id, "title": state.question.title, "topic": state.question.topic.name}


# --- Assessments and invitations -----------------------------------------------------


class AssessmentQuestionSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    id = serializers.IntegerField()
    title = serializers.CharField()


class AssessmentSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    questions = serializers.SerializerMethodField()
    results_csv = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "title",
            "description",
            "status",
            "time_limit_minutes",
            "pass_score",
            "show_results_to_candidate",
            "owner",
            "questions",
            "results_csv",
            "created_at",
        ]

    @extend_schema_field(AssessmentQuestionSerializer(many=True))
    def get_questions(self, assessment: Assessment) -> list[dict[str, Any]]:
        items = sorted(assessment.items.all(), key=lambda item: item.position)
        return [{"position": item.position, "id": item.question_id, "title": item.question.title} for item in items]

    def get_results_csv(self, assessment: Assessment) -> str:
        """Path of the CSV export of this assessment's results."""
        return f"/api/v1/assessments/{assessment.pk}/results.csv"


class AssessmentCreateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=200)
    description = StrictCharField(max_length=5000, required=False, allow_blank=True, default="")
    question_ids = serializers.ListField(
        child=id_field(), min_length=1, max_length=100, help_text="In the order asked."
    )
    time_limit_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)
    pass_score = serializers.IntegerField(min_value=0, max_value=100, required=False, default=60)
    show_results_to_candidate = serializers.BooleanField(required=False, default=False)


class QuestionResultSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    question_id = serializers.IntegerField()
    title = serializers.CharField()
    answered = serializers.BooleanField()
    attempt_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(help_text="unanswered, queued, grading, graded or failed")
    score = serializers.IntegerField(allow_null=True)
    key_points = KeyPointSerializer(many=True)
    misconceptions = MisconceptionSerializer(many=True)
    feedback = serializers.CharField(allow_blank=True)
    grader = GraderSerializer(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ResultsSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Invitation.Status.choices)
    complete = serializers.BooleanField()
    total = serializers.IntegerField(allow_null=True, help_text="Mean score 0–100; blank questions count 0.")
    pass_score = serializers.IntegerField()
    passed = serializers.BooleanField(allow_null=True)
    graded = serializers.IntegerField()
    questions = QuestionResultSerializer(many=True)


def results_data(results: dict[str, Any]) -> dict[str, Any]:
    """Normalise ``invitation_results`` output to the documented shape."""
    questions = []
    for row in results["questions"]:
        grader = row["grader"]
        questions.append(
            {
                **{key: row[key] for key in ("position", "question_id", "title", "answered", "attempt_id", "status")},
                "score": row["score"],
                "key_points": key_points_data(row["key_points"]),
                "misconceptions": misconceptions_data(row["misconceptions"]),
                "feedback": row["feedback"],
                "grader": None if grader is None else {key: grader[key] for key in GraderSerializer().fields},
                "error": row["error"],
            }
        )
    return {**results, "questions": questions}


class InvitationSerializer(serializers.ModelSerializer):
    assessment = serializers.PrimaryKeyRelatedField(read_only=True)
    deadline = serializers.DateTimeField(read_only=True, allow_null=True)
    results = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "assessment",
            "candidate_name",
            "candidate_email",
            "status",
            "token_prefix",
            "expires_at",
            "created_at",
            "started_at",
            "deadline",
            "submitted_at",
            "completed_at",
            "results",
        ]

    @extend_schema_field(ResultsSerializer(allow_null=True))
    def get_results(self, invitation: Invitation) -> dict[str, Any] | None:
        """Scores so far once submitted (final when ``complete``); null before."""
        from attempts.assessments import invitation_results

        if invitation.status not in (Invitation.Status.SUBMITTED, Invitation.Status.COMPLETED):
            return None
        if not self.context.get("with_results", True):
            return None
        return results_data(invitation_results(invitation=invitation))


class InvitationCreatedSerializer(InvitationSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")
    link = serializers.CharField(read_only=True, help_text="The candidate's page.")
    api_url = serializers.CharField(read_only=True, help_text="The candidate API (`/api/v1/take/<token>/`).")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "token", "link", "api_url"]


class InvitationCreateSerializer(serializers.Serializer):
    candidate_name = serializers.CharField(max_length=200)
    candidate_email = serializers.EmailField(max_length=254)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=90, required=False, default=7)


# --- Webhooks ------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.ModelSerializer):
    secret_hint = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "description", "is_active", "secret_hint", "created_at"]

    def get_secret_hint(self, endpoint: WebhookEndpoint) -> str:
        """The secret's last four characters, to tell secrets apart."""
        return f"…{endpoint.secret[-4:]}"


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Verify `X-Signature` with it. Shown once.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = StrictCharField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices),
        required=False,
        default=list,
        max_length=10,
    )
    secret = StrictCharField(
        min_length=16, max_length=128, required=False, help_text="Your own signing secret; generated when omitted."
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "payload",
        ]


# --- Candidates ----------------------------------------------------------------------


class TakeQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    title = serializers.CharField()
    answer = serializers.CharField(allow_blank=True, help_text="The saved draft.")


class TakeAssessmentSerializer(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    time_limit_minutes = serializers.IntegerField()
    question_count = serializers.IntegerField()


class TakeSerializer(serializers.Serializer):
    candidate_name = serializers.CharField()
    assessment = TakeAssessmentSerializer()
    status = serializers.ChoiceField(choices=Invitation.Status.choices)
    expires_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
    time_left_s = serializers.IntegerField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    questions = TakeQuestionSerializer(many=True, help_text="Empty until the assessment is started.")
    results = ResultsSerializer(allow_null=True, help_text="When completed and the assessment shows results.")


class TakeAnswerSerializer(serializers.Serializer):
    question = id_field()
    answer = StrictCharField(
        max_length=settings.ANSWER_MAX_CHARS, allow_blank=True, trim_whitespace=False, help_text="Empty clears it."
    )


class TakeAnswerSavedSerializer(serializers.Serializer):
    question = serializers.IntegerField()
    saved = serializers.BooleanField()
    time_left_s = serializers.IntegerField(allow_null=True)
