"""Liveness and readiness probes."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from interview_platform.celery import app as celery_app


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Depends on nothing else."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as error:  # any driver error means not ready
        return False, f"{type(error).__name__}: {error}"[:200]


def _broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"[:200]


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker are reachable (503 otherwise)."""
    database_ok, database_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    ready = database_ok and broker_ok
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "database": database_detail, "broker": broker_detail},
        status=200 if ready else 503,
    )
