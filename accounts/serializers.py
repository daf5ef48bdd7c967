"""API serializers for accounts: tokens and the signed-in user."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.roles import Role, user_roles
from interview_platform.api.fields import StrictCharField


class TokenObtainSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("Send as `Authorization: Token <token>`. Shown once."))
    token_type = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_lead = serializers.BooleanField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    roles = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()

    def get_roles(self, user: object) -> list[str]:
        held = user_roles(user)
        return [role for role in Role.ALL if role in held]

    @extend_schema_field(TeamSerializer(many=True))
    def get_teams(self, user: object) -> list[dict[str, object]]:
        memberships = user.team_memberships.select_related("team").order_by("team__name")
        return [{"id": m.team_id, "name": m.team.name, "is_lead": m.is_lead} for m in memberships]
