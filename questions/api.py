"""API for the question bank: topics, questions with search, reference versions, error reports."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.roles import can_see_reference_always, is_expert
from attempts.selectors import user_has_attempted
from interview_platform.api.fields import MAX_ID, id_filter
from interview_platform.api.permissions import IsExpert, IsReviewer
from interview_platform.api.throttling import ErrorReportThrottle
from questions.models import Erratum, Question, ReferenceAnswerVersion, Topic
from questions.selectors import question_get, question_list, topic_list
from questions.serializers import (
    ErratumCreateSerializer,
    ErratumResolveSerializer,
    ErratumSerializer,
    QuestionDetailSerializer,
    QuestionSerializer,
    TopicSerializer,
    VersionApproveSerializer,
    VersionContentSerializer,
    VersionCreateSerializer,
    VersionRejectSerializer,
    VersionSerializer,
)

# --- Topics and questions ------------------------------------------------------------


class TopicListApi(generics.ListAPIView):
    serializer_class = TopicSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["order", "name", "slug"]

    def get_queryset(self) -> QuerySet[Topic]:
        return topic_list().annotate(question_count=Count("questions", filter=Q(questions__status="active")))


class QuestionFilter(django_filters.FilterSet):
    """Validates the query parameters; the filtering itself is ``question_list``'s."""

    topic = django_filters.CharFilter(method="_keep", max_length=80, help_text=_("Topic id or slug."))
    tag = django_filters.CharFilter(method="_keep", help_text=_("Tag slug."))
    difficulty = django_filters.ChoiceFilter(choices=Question.Difficulty.choices, method="_keep")
    search = django_filters.CharFilter(
        method="_keep", max_length=200, help_text=_("Words to find (Chinese is segmented; Latin ignores case).")
    )
    status = django_filters.ChoiceFilter(
        choices=Question.Status.choices, method="_keep", help_text=_("Experts only; others see active questions.")
    )

    class Meta:
        model = Question
        fields: list[str] = []

    def _keep(self, queryset: QuerySet[Question], name: str, value: Any) -> QuerySet[Question]:
        return queryset

    def filter_queryset(self, queryset: QuerySet[Question]) -> QuerySet[Question]:
        data = self.form.cleaned_data
        topic = data.get("topic") or None
        if topic is not None and topic.isdigit() and int(topic) > MAX_ID:
            return Question.objects.none()
        staff = self.request is not None and is_expert(self.request.user)
        wanted_status = data.get("status") if staff else None
        result = question_list(
            topic=topic,
            tag=data.get("tag") or None,
            difficulty=data.get("difficulty") or None,
            search=data.get("search") or None,
            include_archived=bool(wanted_status),
        )
        if wanted_status:
            result = result.filter(status=wanted_status)
        if data.get("tag"):
            result = result.distinct()
        return result


class QuestionListApi(generics.ListAPIView):
    """Questions, filtered by topic, tag, difficulty and search, in bank order unless ``ordering``."""

    serializer_class = QuestionSerializer
    filterset_class = QuestionFilter
    ordering_fields = ["id", "title", "difficulty", "created_at", "order"]

    def get_queryset(self) -> QuerySet[Question]:
        return question_list()


class QuestionDetailApi(APIView):
    @extend_schema(operation_id="questions_retrieve", responses={200: QuestionDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        question = question_get(question_id=pk)
        if question is None:
            return _not_found()
        attempted = user_has_attempted(user=request.user, question_id=question.pk)
        # Archived questions stay readable for staff and for those who answered them (history).
        if not question.is_active and not (attempted or is_expert(request.user)):
            return _not_found()
        context = {
            "request": request,
            "attempted": attempted,
            "reference_visible": attempted or can_see_reference_always(request.user),
        }
        return Response(QuestionDetailSerializer(question, context=context).data)


def _not_found() -> Response:
    return Response({"detail": str(_("Not found.")), "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)


# --- Reference versions (experts propose, reviewers approve) --------------------------


def _version_queryset() -> QuerySet[ReferenceAnswerVersion]:
    return ReferenceAnswerVersion.objects.select_related("question", "author", "reviewer", "based_on")


class QuestionVersionListApi(generics.ListCreateAPIView):
    permission_classes = [IsExpert]
    serializer_class = VersionSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["number", "created_at"]

    def get_queryset(self) -> QuerySet[ReferenceAnswerVersion]:
        question = get_object_or_404(Question, pk=self.kwargs["pk"])
        return _version_queryset().filter(question=question).order_by("-number")

    @extend_schema(
        operation_id="questions_versions_create",
        request=VersionCreateSerializer,
        responses={
            201: VersionSerializer,
            409: OpenApiResponse(description="`base_version` is not the latest; the body names `current_version`."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        from questions import services

        question = get_object_or_404(Question, pk=pk)
        serializer = VersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():  # "create and submit" happens entirely or not at all
            version = services.reference_version_create(
                question=question,
                author=request.user,
                base_version=data["base_version"] or None,
                body=data["body"],
                key_points=data["key_points"],
                misconceptions=data["misconceptions"],
                change_note=data["change_note"],
            )
            if data["submit"]:
                version = services.reference_version_submit(version=version, actor=request.user)
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetailApi(APIView):
    permission_classes = [IsExpert]

    @extend_schema(operation_id="versions_retrieve", responses={200: VersionSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(VersionSerializer(get_object_or_404(_version_queryset(), pk=pk)).data)

    @extend_schema(operation_id="versions_update", request=VersionContentSerializer, responses={200: VersionSerializer})
    def put(self, request: Request, pk: int) -> Response:
        """Change a draft (its author only); a submitted version is frozen."""
        from questions import services

        version = get_object_or_404(_version_queryset(), pk=pk)
        serializer = VersionContentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.reference_version_update_draft(
            version=version, actor=request.user, **serializer.validated_data
        )
        return Response(VersionSerializer(get_object_or_404(_version_queryset(), pk=version.pk)).data)


class _VersionActionApi(APIView):
    action_serializer: type | None = None

    def _version(self, pk: int) -> ReferenceAnswerVersion:
        return get_object_or_404(_version_queryset(), pk=pk)

    def _data(self, request: Request) -> dict[str, Any]:
        if self.action_serializer is None:
            return {}
        serializer = self.action_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class VersionSubmitApi(_VersionActionApi):
    permission_classes = [IsExpert]

    @extend_schema(operation_id="versions_submit", request=None, responses={200: VersionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        from questions import services

        version = services.reference_version_submit(version=self._version(pk), actor=request.user)
        return Response(VersionSerializer(version).data)


class VersionApproveApi(_VersionActionApi):
    """Publish a version in review. Nobody approves their own version."""

    permission_classes = [IsReviewer]
    action_serializer = VersionApproveSerializer

    @extend_schema(
        operation_id="versions_approve", request=VersionApproveSerializer, responses={200: VersionSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        from questions import services

        data = self._data(request)
        version = services.reference_version_approve(
            version=self._version(pk), reviewer=request.user, comment=data.get("comment", "")
        )
        return Response(VersionSerializer(version).data)


class VersionRejectApi(_VersionActionApi):
    permission_classes = [IsReviewer]
    action_serializer = VersionRejectSerializer

    @extend_schema(operation_id="versions_reject", request=VersionRejectSerializer, responses={200: VersionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        from questions import services

        data = self._data(request)
        version = services.reference_version_reject(
            version=self._version(pk), reviewer=request.user, comment=data["comment"]
        )
        return Response(VersionSerializer(version).data)


# --- Error reports ---------------------------------------------------------------------


class QuestionErratumCreateApi(APIView):
    """Anyone signed in reports an error in a question's published reference answer."""

    def get_throttles(self) -> list[BaseThrottle]:
        return [ErrorReportThrottle()]

    @extend_schema(
        operation_id="questions_errata_create", request=ErratumCreateSerializer, responses={201: ErratumSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        from questions import services

        question = question_get(question_id=pk, include_archived=False)
        if question is None:
            return _not_found()
        serializer = ErratumCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        erratum = services.erratum_report(question=question, reporter=request.user, **serializer.validated_data)
        return Response(ErratumSerializer(erratum).data, status=status.HTTP_201_CREATED)


class ErratumFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Erratum.Status.choices)
    question = id_filter(field_name="question_id")
    mine = django_filters.BooleanFilter(method="_mine", help_text=_("Experts: only my own reports."))

    class Meta:
        model = Erratum
        fields: list[str] = []

    def _mine(self, queryset: QuerySet[Erratum], name: str, value: bool | None) -> QuerySet[Erratum]:
        return queryset.filter(reporter=self.request.user) if value else queryset


class ErratumListApi(generics.ListAPIView):
    """Error reports with their outcome: one's own; experts see every report."""

    queryset = Erratum.objects.none()
    serializer_class = ErratumSerializer
    filterset_class = ErratumFilter
    ordering_fields = ["created_at", "severity", "status"]

    def get_queryset(self) -> QuerySet[Erratum]:
        from questions.services import erratum_list_for_reporter

        if is_expert(self.request.user):
            return Erratum.objects.select_related("question", "version", "fixed_in", "reporter").order_by(
                "-created_at", "-id"
            )
        return erratum_list_for_reporter(user=self.request.user).select_related("reporter")


class ErratumResolveApi(APIView):
    """Experts close a report: fixed by a version, or rejected with a note the reporter reads."""

    permission_classes = [IsExpert]

    @extend_schema(operation_id="errata_resolve", request=ErratumResolveSerializer, responses={200: ErratumSerializer})
    def post(self, request: Request, pk: int) -> Response:
        from questions.services import erratum_resolve

        erratum = get_object_or_404(Erratum, pk=pk)
        serializer = ErratumResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        erratum = erratum_resolve(
            erratum=erratum, actor=request.user, status=data["status"], fixed_in=data.get("fixed_in"), note=data["note"]
        )
        erratum = Erratum.objects.select_related("question", "version", "fixed_in", "reporter").get(pk=erratum.pk)
        return Response(ErratumSerializer(erratum).data)
