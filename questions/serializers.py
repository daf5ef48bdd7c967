"""API serializers for the question bank."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from interview_platform.api.fields import StrictCharField
from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic
from questions.selectors import question_published_version


class TopicSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(read_only=True, help_text="Stable key; may contain Chinese.")
    question_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Topic
        fields = ["id", "slug", "name", "name_en", "description", "order", "question_count"]


class TopicBriefSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(read_only=True)

    class Meta:
        model = Topic
        fields = ["id", "slug", "name", "name_en"]


class TagSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(read_only=True)

    class Meta:
        model = Tag
        fields = ["slug", "name"]


class ReferenceSerializer(serializers.ModelSerializer):
    """A published reference answer as trainees see it."""

    class Meta:
        model = ReferenceAnswerVersion
        fields = ["id", "number", "body", "key_points", "misconceptions", "published_at"]


class QuestionSerializer(serializers.ModelSerializer):
    topic = TopicBriefSerializer()
    tags = TagSerializer(many=True)
    has_reference = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = [
            "id",
            "topic",
            "number",
            "title",
            "title_en",
            "group",
            "parent",
            "difficulty",
            "status",
            "tags",
            "has_reference",
        ]

    def get_has_reference(self, question: Question) -> bool:
        return question_published_version(question) is not None


class QuestionDetailSerializer(QuestionSerializer):
    """Adds the published reference, shown to a trainee only after they attempted the question."""

    reference = serializers.SerializerMethodField()
    reference_visible = serializers.SerializerMethodField()
    attempted = serializers.SerializerMethodField()

    class Meta(QuestionSerializer.Meta):
        fields = [
            *QuestionSerializer.Meta.fields,
            "source_file",
            "source_line",
            "attempted",
            "reference_visible",
            "reference",
        ]

    def get_attempted(self, question: Question) -> bool:
        return bool(self.context.get("attempted"))

    def get_reference_visible(self, question: Question) -> bool:
        return bool(self.context.get("reference_visible"))

    @extend_schema_field(ReferenceSerializer(allow_null=True))
    def get_reference(self, question: Question) -> dict[str, Any] | None:
        if not self.context.get("reference_visible"):
            return None
        version = question_published_version(question)
        return ReferenceSerializer(version).data if version else None


class VersionSerializer(serializers.ModelSerializer):
    question = serializers.PrimaryKeyRelatedField(read_only=True)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    based_on = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceAnswerVersion
        fields = [
            "id",
            "question",
            "number",
            "status",
            "body",
            "key_points",
            "misconceptions",
            "change_note",
            "based_on",
            "author",
            "reviewer",
            "review_comment",
            "created_at",
            "submitted_at",
            "reviewed_at",
            "published_at",
        ]

    def get_based_on(self, version: ReferenceAnswerVersion) -> int | None:
        """The number of the version this one revises."""
        return version.based_on.number if version.based_on_id and version.based_on else None


class VersionContentSerializer(serializers.Serializer):
    body = StrictCharField(max_length=50_000, help_text="The reference answer in Markdown.")
    key_points = serializers.ListField(
        child=StrictCharField(max_length=500), max_length=30, help_text="The rubric: 3–6 short statements."
    )
    misconceptions = serializers.ListField(
        child=StrictCharField(max_length=500), required=False, default=list, max_length=30
    )
    change_note = StrictCharField(max_length=2000, help_text="What changed and why.")


class VersionCreateSerializer(VersionContentSerializer):
    base_version = serializers.IntegerField(
        min_value=0,
        max_value=1_000_000,
        allow_null=True,
        help_text="The number of the latest version you edited (null or 0 for a question without versions). "
        "A stale number answers 409 with the current number.",
    )
    submit = serializers.BooleanField(
        required=False, default=False, help_text="Submit for review at once (a draft otherwise)."
    )


class VersionRejectSerializer(serializers.Serializer):
    comment = StrictCharField(max_length=2000)


class VersionApproveSerializer(serializers.Serializer):
    comment = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class ErratumCreateSerializer(serializers.Serializer):
    quote = StrictCharField(max_length=2000, help_text="The claim in the reference answer that is wrong.")
    explanation = StrictCharField(max_length=5000, help_text="Why it is wrong.")
    severity = serializers.ChoiceField(choices=Erratum.Severity.choices, default=Erratum.Severity.MAJOR)


class ErratumResolveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Erratum.Status.FIXED, Erratum.Status.REJECTED])
    fixed_in = serializers.IntegerField(
        min_value=1,
        max_value=1_000_000,
        required=False,
        allow_null=True,
        help_text="The version number that fixes it (status fixed).",
    )
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class ErratumSerializer(serializers.ModelSerializer):
    question = serializers.PrimaryKeyRelatedField(read_only=True)
    question_title = serializers.CharField(source="question.title", read_only=True)
    version = serializers.SerializerMethodField()
    fixed_in = serializers.SerializerMethodField()
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Erratum
        fields = [
            "id",
            "question",
            "question_title",
            "version",
            "quote",
            "explanation",
            "severity",
            "status",
            "fixed_in",
            "resolution_note",
            "reporter",
            "created_at",
            "resolved_at",
        ]

    def get_version(self, erratum: Erratum) -> int | None:
        """The number of the version the report is about."""
        return erratum.version.number if erratum.version_id and erratum.version else None

    def get_fixed_in(self, erratum: Erratum) -> int | None:
        """The number of the version that fixed it."""
        return erratum.fixed_in.number if erratum.fixed_in_id and erratum.fixed_in else None
