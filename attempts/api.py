"""API for practice: attempts and their grades, progress, due reviews, team progress."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.roles import is_team_lead
from attempts.idempotency import idempotent
from attempts.models import Attempt, ReviewState
from attempts.regrading import attempt_regrade
from attempts.reviews import reviews_due_for_user
from attempts.selectors import attempt_get_for_user, attempt_list_for_user
from attempts.serializers import (
    AttemptCreateSerializer,
    AttemptSerializer,
    ReviewDueSerializer,
)
from attempts.services import attempt_retry, attempt_submit
from interview_platform.api.fields import id_filter
from interview_platform.api.permissions import IsExpert
from interview_platform.api.throttling import AttemptSubmitThrottle


def attempt_location(attempt: Attempt) -> str:
    return f"/api/v1/attempts/{attempt.pk}/"


def _request_id(request: Request) -> str:
    return (request.headers.get("X-Request-ID") or "")[:64]


class AttemptFilter(django_filters.FilterSet):
    question = id_filter(method="_keep")
    status = django_filters.ChoiceFilter(choices=Attempt.Status.choices, method="_keep")
    mode = django_filters.ChoiceFilter(choices=Attempt.Mode.choices, method="_keep")
    user = id_filter(method="_keep", help_text=gettext_lazy("A user's id (staff only)."))

    class Meta:
        model = Attempt
        fields: list[str] = []

    def _keep(self, queryset: QuerySet[Attempt], name: str, value: Any) -> QuerySet[Attempt]:
        return queryset

    def filter_queryset(self, queryset: QuerySet[Attempt]) -> QuerySet[Attempt]:
        data = self.form.cleaned_data
        question = data.get("question")
        user = data.get("user")
        return attempt_list_for_user(
            user=self.request.user,
            question_id=int(question) if question is not None else None,
            status=data.get("status") or None,
            mode=data.get("mode") or None,
            owner_id=int(user) if user is not None else None,
        )


class AttemptListApi(generics.ListAPIView):
    """``GET`` lists one's own attempts (staff: everyone's); ``POST`` submits an answer for grading."""

    serializer_class = AttemptSerializer
    filterset_class = AttemptFilter
    ordering_fields = ["created_at", "id", "status"]

    def get_queryset(self) -> QuerySet[Attempt]:
        return attempt_list_for_user(user=self.request.user)

    def get_throttles(self) -> list[BaseThrottle]:
        return [AttemptSubmitThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="attempts_create",
        request=AttemptCreateSerializer,
        responses={202: AttemptSerializer},
        summary="Submit an answer; it is graded asynchronously (poll the Location)",
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        serializer = AttemptCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # attempt_submit refuses unknown, archived and unpublished questions (400, field "question").
        attempt = attempt_submit(
            question_id=data["question"],
            answer=data["answer"],
            user=request.user,
            time_spent_s=data.get("time_spent_s"),
            request_id=_request_id(request),
        )
        attempt = attempt_get_for_user(user=request.user, attempt_id=attempt.pk)
        return Response(
            AttemptSerializer(attempt).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": attempt_location(attempt)},
        )


def _attempt_or_404(request: Request, pk: int) -> Attempt:
    attempt = attempt_get_for_user(user=request.user, attempt_id=pk)
    if attempt is None:
        raise NotFound()
    return attempt


class AttemptDetailApi(APIView):
    @extend_schema(operation_id="attempts_retrieve", responses={200: AttemptSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(AttemptSerializer(_attempt_or_404(request, pk)).data)


class AttemptRetryApi(APIView):
    """The owner sends a failed attempt to grading again (the portal's retry button)."""

    @extend_schema(operation_id="attempts_retry", request=None, responses={202: AttemptSerializer})
    def post(self, request: Request, pk: int) -> Response:
        # Only the owner or staff can see the attempt at all; attempt_retry checks who may retry.
        attempt_retry(attempt=_attempt_or_404(request, pk), actor=request.user)
        attempt = _attempt_or_404(request, pk)
        return Response(
            AttemptSerializer(attempt).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": attempt_location(attempt)},
        )


class AttemptRegradeApi(APIView):
    """Experts: grade a failed or graded attempt again (the new grade becomes current)."""

    permission_classes = [IsExpert]

    @extend_schema(operation_id="attempts_regrade", request=None, responses={202: AttemptSerializer})
    def post(self, request: Request, pk: int) -> Response:
        attempt = attempt_regrade(attempt=_attempt_or_404(request, pk), actor=request.user)
        attempt = _attempt_or_404(request, attempt.pk)
        return Response(
            AttemptSerializer(attempt).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": attempt_location(attempt)},
        )


# --- Progress and reviews ----------------------------------------------------------------


class MeProgressApi(APIView):
    @extend_schema(
        operation_id="me_progress_retrieve",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Per-topic progress, recent grades, streak.")},
    )
    def get(self, request: Request) -> Response:
        from attempts.progress import progress_for_user

        return Response(progress_for_user(user=request.user).to_dict())


class ReviewDueListApi(generics.ListAPIView):
    """Questions due for spaced review now, most overdue first."""

    serializer_class = ReviewDueSerializer

    def get_queryset(self) -> QuerySet[ReviewState]:
        return reviews_due_for_user(user=self.request.user)

    filter_backends: list[type] = []


class IsTeamLead(BasePermission):
    message = gettext_lazy("Only team leads may do this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and is_team_lead(request.user))


class TeamProgressApi(APIView):
    """Team leads: members × topics for the teams they lead."""

    permission_classes = [IsAuthenticated, IsTeamLead]

    @extend_schema(
        operation_id="teams_progress_list",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="One entry per team led.")},
    )
    def get(self, request: Request) -> Response:
        from dataclasses import asdict

        from attempts.progress import team_progress

        teams = team_progress(lead=request.user)
        body = [
            {
                "team_id": team.team_id,
                "team_name": team.team_name,
                "topics": [{"id": topic.pk, "slug": topic.slug, "name": topic.name} for topic in team.topics],
                "members": [asdict(member) for member in team.members],
            }
            for team in teams
        ]
        return Response({"teams": body})
