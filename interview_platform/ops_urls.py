"""Operations endpoints (liveness, readiness, metrics)."""

from django.urls import path

from interview_platform import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
