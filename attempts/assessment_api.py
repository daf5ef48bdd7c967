"""API for HR (assessments, invitations, results, CSV, webhooks) and for candidates (``/take/``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import django_filters
from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, user_roles
from attempts import assessments as assessment_services
from attempts import webhooks as webhook_services
from attempts.idempotency import HEADER as IDEMPOTENCY_HEADER
from attempts.idempotency import idempotent
from attempts.models import Assessment, AssessmentQuestion, Invitation, WebhookDelivery, WebhookEndpoint
from attempts.serializers import (
    AssessmentCreateSerializer,
    AssessmentSerializer,
    InvitationCreatedSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    TakeAnswerSavedSerializer,
    TakeAnswerSerializer,
    TakeSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    results_data,
)
from interview_platform.api.fields import id_filter
from interview_platform.api.permissions import IsHr
from interview_platform.api.throttling import CandidateThrottle, HrThrottle


def _sees_everything(request: Request) -> bool:
    """Admins read every HR object; HR users read their own."""
    return Role.ADMIN in user_roles(request.user)


class HrApiMixin:
    permission_classes = [IsHr]
    throttle_classes = [HrThrottle]


def assessment_queryset(request: Request) -> QuerySet[Assessment]:
    queryset = Assessment.objects.select_related("owner").prefetch_related(
        Prefetch("items", queryset=AssessmentQuestion.objects.select_related("question"))
    )
    return queryset if _sees_everything(request) else queryset.filter(owner=request.user)


def _assessment_or_404(request: Request, pk: int) -> Assessment:
    assessment = assessment_queryset(request).filter(pk=pk).first()
    if assessment is None:
        raise NotFound()
    return assessment


# --- Assessments ---------------------------------------------------------------------


class AssessmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Assessment.Status.choices)

    class Meta:
        model = Assessment
        fields: list[str] = []


class AssessmentListApi(HrApiMixin, generics.ListAPIView):
    """HR's assessments (admins see all); ``POST`` creates one (``Idempotency-Key`` honoured)."""

    queryset = Assessment.objects.none()  # for the schema; get_queryset scopes to the user
    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilter
    ordering_fields = ["created_at", "title"]

    def get_queryset(self) -> QuerySet[Assessment]:
        return assessment_queryset(self.request).order_by("-created_at", "-id")

    @extend_schema(
        operation_id="assessments_create", request=AssessmentCreateSerializer, responses={201: AssessmentSerializer}
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        serializer = AssessmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assessment = assessment_services.assessment_create(owner=request.user, **serializer.validated_data)
        assessment = _assessment_or_404(request, assessment.pk)
        return Response(
            AssessmentSerializer(assessment).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/assessments/{assessment.pk}/"},
        )


class AssessmentDetailApi(HrApiMixin, APIView):
    @extend_schema(operation_id="assessments_retrieve", responses={200: AssessmentSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(AssessmentSerializer(_assessment_or_404(request, pk)).data)

    @extend_schema(
        operation_id="assessments_archive",
        responses={204: OpenApiResponse(description="Archived: no new invitations; existing links keep working.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        assessment_services.assessment_archive(assessment=_assessment_or_404(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Invitations ---------------------------------------------------------------------


def _derived_token(request: Request, key: str) -> str:
    """The invitation token for an idempotent request: recomputable, never stored.

    HMAC of the user and the Idempotency-Key with SECRET_KEY, so a replay can show the
    same link although only the token's hash is in the database.
    """
    message = f"invitation-token:{request.user.pk}:{key}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _invitation_secrets(raw_token: str) -> dict[str, str]:
    return {
        "token": raw_token,
        "link": assessment_services.invitation_link(raw_token=raw_token),
        "api_url": f"{settings.SITE_URL}/api/v1/take/{raw_token}/",
    }


def _redact_invitation(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: value for key, value in body.items() if key not in ("token", "link", "api_url")}
    return body


def _restore_invitation(request: Request, body: Any) -> Any:
    if isinstance(body, dict) and "id" in body:
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        return {**body, **_invitation_secrets(_derived_token(request, key))}
    return body


class InvitationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Invitation.Status.choices)
    assessment = id_filter(field_name="assessment_id")

    class Meta:
        model = Invitation
        fields: list[str] = []


def invitation_queryset(request: Request) -> QuerySet[Invitation]:
    queryset = assessment_services.invitation_queryset()
    return queryset if _sees_everything(request) else queryset.filter(assessment__owner=request.user)


class AssessmentInvitationListApi(HrApiMixin, generics.ListAPIView):
    """An assessment's invitations; ``POST`` invites a candidate and returns the link and token once."""

    queryset = Invitation.objects.none()
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    ordering_fields = ["created_at", "status", "candidate_name"]

    def get_queryset(self) -> QuerySet[Invitation]:
        assessment = _assessment_or_404(self.request, self.kwargs["pk"])
        return invitation_queryset(self.request).filter(assessment=assessment).order_by("-created_at", "-id")

    @extend_schema(
        operation_id="assessments_invitations_create",
        request=InvitationCreateSerializer,
        responses={201: InvitationCreatedSerializer},
    )
    @idempotent(redact=_redact_invitation, restore=_restore_invitation)
    def post(self, request: Request, pk: int) -> Response:
        assessment = _assessment_or_404(request, pk)
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
        invitation, raw_token = assessment_services.invitation_create(
            assessment=assessment,
            created_by=request.user,
            raw_token=_derived_token(request, key) if key else None,
            **serializer.validated_data,
        )
        invitation = invitation_queryset(request).get(pk=invitation.pk)
        body = {**InvitationSerializer(invitation).data, **_invitation_secrets(raw_token)}
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/v1/invitations/{invitation.pk}/"}
        )


class InvitationListApi(HrApiMixin, generics.ListAPIView):
    queryset = Invitation.objects.none()
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    ordering_fields = ["created_at", "status", "candidate_name"]

    def get_queryset(self) -> QuerySet[Invitation]:
        return invitation_queryset(self.request).order_by("-created_at", "-id")


def _invitation_or_404(request: Request, pk: int) -> Invitation:
    invitation = invitation_queryset(request).filter(pk=pk).first()
    if invitation is None:
        raise NotFound()
    return invitation


class InvitationDetailApi(HrApiMixin, APIView):
    @extend_schema(operation_id="invitations_retrieve", responses={200: InvitationSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(InvitationSerializer(_invitation_or_404(request, pk)).data)


class InvitationRevokeApi(HrApiMixin, APIView):
    @extend_schema(operation_id="invitations_revoke", request=None, responses={200: InvitationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        invitation = assessment_services.invitation_revoke(invitation=_invitation_or_404(request, pk))
        return Response(InvitationSerializer(_invitation_or_404(request, invitation.pk)).data)


# --- Results CSV ---------------------------------------------------------------------


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv``: the view writes the CSV itself; errors are JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")


class AssessmentResultsCsvApi(HrApiMixin, APIView):
    """Results of every invitation, one row each: UTF-8 with a BOM so Excel shows Chinese."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        """Errors are JSON whatever the client asked for (``Accept: text/csv`` included)."""
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        operation_id="assessments_results_csv",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, UTF-8 with BOM")},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        assessment = _assessment_or_404(request, pk)
        response = HttpResponse(
            ("\ufeff" + assessment_services.assessment_results_csv(assessment=assessment)).encode("utf-8"),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="assessment-{assessment.pk}-results.csv"'
        return response


# --- Webhooks ------------------------------------------------------------------------


def webhook_queryset(request: Request) -> QuerySet[WebhookEndpoint]:
    return webhook_services.webhook_endpoints_for_user(user=request.user, all_owners=_sees_everything(request))


class WebhookListApi(HrApiMixin, generics.ListAPIView):
    """Registered endpoints; ``POST`` registers one and returns its signing secret once."""

    serializer_class = WebhookEndpointSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return webhook_queryset(self.request).order_by("-created_at", "-id")

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_services.webhook_endpoint_create(owner=request.user, **serializer.validated_data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


def _webhook_or_404(request: Request, pk: int) -> WebhookEndpoint:
    endpoint = webhook_queryset(request).filter(pk=pk).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


class WebhookDetailApi(HrApiMixin, APIView):
    @extend_schema(operation_id="webhooks_retrieve", responses={200: WebhookEndpointSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookEndpointSerializer(_webhook_or_404(request, pk)).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, pk: int) -> Response:
        webhook_services.webhook_endpoint_delete(endpoint=_webhook_or_404(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


class WebhookDeliveryListApi(HrApiMixin, generics.ListAPIView):
    """The delivery log of one endpoint, newest first."""

    queryset = WebhookDelivery.objects.none()
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        endpoint = _webhook_or_404(self.request, self.kwargs["pk"])
        return webhook_services.webhook_deliveries_for_endpoint(endpoint=endpoint)


# --- Candidates (no account: the token in the path is the credential) --------------------


class CandidateApiMixin:
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [CandidateThrottle]


def take_data(invitation: Invitation) -> dict[str, Any]:
    assessment = invitation.assessment
    items = assessment_services.assessment_items(assessment=assessment)
    questions: list[dict[str, Any]] = []
    if invitation.status != Invitation.Status.PENDING:
        drafts = invitation.draft_answers or {}
        questions = [
            {
                "id": item.question_id,
                "position": item.position,
                "title": item.question.title,
                "answer": drafts.get(str(item.question_id), ""),
            }
            for item in items
        ]
    results = None
    if invitation.status == Invitation.Status.COMPLETED and assessment.show_results_to_candidate:
        results = results_data(assessment_services.invitation_results(invitation=invitation))
    return {
        "candidate_name": invitation.candidate_name,
        "assessment": {
            "title": assessment.title,
            "description": assessment.description,
            "time_limit_minutes": assessment.time_limit_minutes,
            "question_count": len(items),
        },
        "status": invitation.status,
        "expires_at": invitation.expires_at,
        "started_at": invitation.started_at,
        "deadline": invitation.deadline,
        "time_left_s": assessment_services.invitation_time_left(invitation=invitation),
        "submitted_at": invitation.submitted_at,
        "questions": questions,
        "results": results,
    }


def _take(token: str) -> Invitation:
    return assessment_services.invitation_get_by_token(token=token)


class TakeApi(CandidateApiMixin, APIView):
    """The invitation as the candidate sees it; questions appear once started."""

    @extend_schema(operation_id="take_retrieve", responses={200: TakeSerializer})
    def get(self, request: Request, token: str) -> Response:
        return Response(TakeSerializer(take_data(_take(token))).data)


class TakeStartApi(CandidateApiMixin, APIView):
    """Start the clock (idempotent). Saving a first answer starts it too."""

    @extend_schema(operation_id="take_start", request=None, responses={200: TakeSerializer})
    def post(self, request: Request, token: str) -> Response:
        assessment_services.invitation_start(invitation=_take(token))
        return Response(TakeSerializer(take_data(_take(token))).data)


class TakeAnswerApi(CandidateApiMixin, APIView):
    """Save (or clear) the draft answer to one question; refused after the deadline."""

    @extend_schema(
        operation_id="take_answers_create", request=TakeAnswerSerializer, responses={200: TakeAnswerSavedSerializer}
    )
    def post(self, request: Request, token: str) -> Response:
        invitation = _take(token)
        serializer = TakeAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invitation = assessment_services.invitation_save_answer(
            invitation=invitation, question_id=data["question"], answer=data["answer"]
        )
        body = {
            "question": data["question"],
            "saved": bool(data["answer"].strip()),
            "time_left_s": assessment_services.invitation_time_left(invitation=invitation),
        }
        return Response(TakeAnswerSavedSerializer(body).data)


class TakeSubmitApi(CandidateApiMixin, APIView):
    """Submit the saved answers, once. Grading runs in the background."""

    @extend_schema(operation_id="take_submit", request=None, responses={202: TakeSerializer})
    def post(self, request: Request, token: str) -> Response:
        assessment_services.invitation_submit(
            invitation=_take(token), request_id=(request.headers.get("X-Request-ID") or "")[:64]
        )
        return Response(TakeSerializer(take_data(_take(token))).data, status=status.HTTP_202_ACCEPTED)
