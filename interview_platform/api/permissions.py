"""Role permissions for the API, built on the predicates of ``accounts.roles``.

The role × endpoint matrix is in docs/api.md; each class below is one column of it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.roles import UserLike, is_expert, is_hr, is_reviewer


class _RolePermission(BasePermission):
    predicate: Callable[[UserLike], bool]

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and type(self).predicate(request.user))


class IsExpert(_RolePermission):
    """Experts, reviewers and admins (content curation)."""

    message = _("Only experts may do this.")
    predicate = staticmethod(is_expert)


class IsReviewer(_RolePermission):
    message = _("Only reviewers may do this.")
    predicate = staticmethod(is_reviewer)


class IsHr(_RolePermission):
    """HR and admins (assessments, invitations, results, webhooks)."""

    message = _("Only HR may do this.")
    predicate = staticmethod(is_hr)
