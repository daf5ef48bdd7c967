"""Operations endpoints (liveness, readiness, metrics).

``OpsProbeMiddleware`` answers the probes before the rest of the stack; these routes serve
the same views when that middleware is not installed and give ``/metrics`` to staff sessions.
"""

from django.urls import path

from interview_platform import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
