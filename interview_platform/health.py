"""Liveness and readiness probes, answered ahead of the rest of the middleware.

``/healthz`` (liveness) says the process serves requests and touches nothing else: a
database outage must not make an orchestrator restart every web container. ``/readyz``
(readiness) says the database and the broker answer, each within a few seconds; it is 503
otherwise, naming which one failed (the error's type only; the detail goes to the log).

``OpsProbeMiddleware`` sits first in ``MIDDLEWARE`` and answers these paths before host
validation, HTTPS redirects, sessions and the access log: container health checks and load
balancers probe ``http://<container ip>:8000/healthz`` with whatever ``Host`` they like, and a
probe every few seconds should not fill the logs. A scrape of ``/metrics`` that brings a
bearer token is answered there too (Prometheus reaches containers by their internal names);
without a token the request goes on through the normal stack, so a staff session works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from interview_platform.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 3


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Depends on nothing else."""
    return JsonResponse({"status": "ok"})


def database_check() -> str:
    """'ok', or the type of the error that the database raised."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as error:  # any driver error means not ready
        logger.warning("readiness: the database is unreachable: %s", error)
        # A broken connection must not be reused by the next request of this thread.
        connection.close_if_unusable_or_obsolete()
        return f"unavailable ({type(error).__name__})"


def broker_check() -> str:
    """'ok', or the type of the error met while connecting to the Celery broker."""
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        return "ok"
    except Exception as error:
        logger.warning("readiness: the broker is unreachable: %s", error)
        return f"unavailable ({type(error).__name__})"


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker are reachable (503 otherwise)."""
    database = database_check()
    broker = broker_check()
    ready = database == "ok" and broker == "ok"
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "database": database, "broker": broker},
        status=200 if ready else 503,
    )


class OpsProbeMiddleware:
    """Answers ``/healthz``, ``/readyz`` and token-bearing ``/metrics`` scrapes first (see module doc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            if request.path == "/healthz":
                return healthz(request)
            if request.path == "/readyz":
                return readyz(request)
            if request.path == "/metrics" and "HTTP_AUTHORIZATION" in request.META:
                from interview_platform.metrics import metrics_view

                return metrics_view(request)
        return self.get_response(request)
