"""API: tokens for tools (issue, revoke) and the signed-in user."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.serializers import MeSerializer, TokenObtainSerializer, TokenSerializer
from accounts.services import api_token_create, api_token_revoke
from interview_platform.api.throttling import TokenObtainThrottle


class AuthTokenApi(APIView):
    """``POST`` exchanges a username and password for an expiring token; ``DELETE`` revokes it."""

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return [TokenObtainThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenObtainSerializer,
        responses={201: TokenSerializer},
        auth=[],
        summary="Issue an API token",
    )
    def post(self, request: Request) -> Response:
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:
            message = _("Unable to sign in with the given username and password.")
            raise ValidationError({"non_field_errors": [message]})
        issued = api_token_create(user=user, name="api")
        body = {"token": issued.raw_key, "token_type": "Token", "expires_at": issued.token.expires_at}
        return Response(TokenSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="auth_token_revoke",
        request=None,
        responses={204: OpenApiResponse(description="Revoked.")},
        summary="Revoke the token this request is authenticated with",
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise ValidationError(
                {"Authorization": [_("This request is not authenticated with a token; nothing to revoke.")]}
            )
        api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses={200: MeSerializer}, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)
