"""The API router: every endpoint of the contract (ARCHITECTURE.md, "API"), under /api/v1/.

Anything else under /api/v1/ answers a JSON 404, like every other API error. (No ReDoc page:
drf-spectacular's ReDoc template loads Google Fonts; Swagger UI is served entirely from
drf_spectacular_sidecar's static files.)
"""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api import AuthTokenApi, MeApi
from attempts import api as attempts_api
from attempts import assessment_api as hr_api
from interview_platform.api.schema import SCHEMA_SETTINGS
from interview_platform.api.views import IdConverter, api_not_found
from questions import api as questions_api

register_converter(IdConverter, "id")

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(custom_settings=SCHEMA_SETTINGS), name="schema"),
    # The split view serves Swagger UI's start-up script as a separate file, so the page
    # runs under the site's Content Security Policy (no inline scripts).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Accounts
    path("auth/token/", AuthTokenApi.as_view(), name="auth-token"),
    path("me/", MeApi.as_view(), name="me"),
    path("me/progress/", attempts_api.MeProgressApi.as_view(), name="me-progress"),
    path("teams/progress/", attempts_api.TeamProgressApi.as_view(), name="teams-progress"),
    # Question bank and curation
    path("topics/", questions_api.TopicListApi.as_view(), name="topic-list"),
    path("questions/", questions_api.QuestionListApi.as_view(), name="question-list"),
    path("questions/<id:pk>/", questions_api.QuestionDetailApi.as_view(), name="question-detail"),
    path("questions/<id:pk>/versions/", questions_api.QuestionVersionListApi.as_view(), name="question-versions"),
    path("questions/<id:pk>/errata/", questions_api.QuestionErratumCreateApi.as_view(), name="question-errata"),
    path("versions/<id:pk>/", questions_api.VersionDetailApi.as_view(), name="version-detail"),
    path("versions/<id:pk>/submit/", questions_api.VersionSubmitApi.as_view(), name="version-submit"),
    path("versions/<id:pk>/approve/", questions_api.VersionApproveApi.as_view(), name="version-approve"),
    path("versions/<id:pk>/reject/", questions_api.VersionRejectApi.as_view(), name="version-reject"),
    path("errata/", questions_api.ErratumListApi.as_view(), name="erratum-list"),
    path("errata/<id:pk>/resolve/", questions_api.ErratumResolveApi.as_view(), name="erratum-resolve"),
    # Practice
    path("attempts/", attempts_api.AttemptListApi.as_view(), name="attempt-list"),
    path("attempts/<id:pk>/", attempts_api.AttemptDetailApi.as_view(), name="attempt-detail"),
    path("attempts/<id:pk>/retry/", attempts_api.AttemptRetryApi.as_view(), name="attempt-retry"),
    path("attempts/<id:pk>/regrade/", attempts_api.AttemptRegradeApi.as_view(), name="attempt-regrade"),
    path("reviews/due/", attempts_api.ReviewDueListApi.as_view(), name="reviews-due"),
    # HR
    path("assessments/", hr_api.AssessmentListApi.as_view(), name="assessment-list"),
    path("assessments/<id:pk>/", hr_api.AssessmentDetailApi.as_view(), name="assessment-detail"),
    path(
        "assessments/<id:pk>/invitations/",
        hr_api.AssessmentInvitationListApi.as_view(),
        name="assessment-invitations",
    ),
    path("assessments/<id:pk>/results.csv", hr_api.AssessmentResultsCsvApi.as_view(), name="assessment-results-csv"),
    path("invitations/", hr_api.InvitationListApi.as_view(), name="invitation-list"),
    path("invitations/<id:pk>/", hr_api.InvitationDetailApi.as_view(), name="invitation-detail"),
    path("invitations/<id:pk>/revoke/", hr_api.InvitationRevokeApi.as_view(), name="invitation-revoke"),
    path("webhooks/", hr_api.WebhookListApi.as_view(), name="webhook-list"),
    path("webhooks/<id:pk>/", hr_api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<id:pk>/deliveries/", hr_api.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    # Candidates
    path("take/<str:token>/", hr_api.TakeApi.as_view(), name="take"),
    path("take/<str:token>/start/", hr_api.TakeStartApi.as_view(), name="take-start"),
    path("take/<str:token>/answers/", hr_api.TakeAnswerApi.as_view(), name="take-answers"),
    path("take/<str:token>/submit/", hr_api.TakeSubmitApi.as_view(), name="take-submit"),
    re_path(r"^.*$", api_not_found, name="not-found"),
]
