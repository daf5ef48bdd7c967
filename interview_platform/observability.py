"""Request ids, structured logs, and the request id's journey into Celery tasks.

Protocol of the request id:

1. ``RequestIdMiddleware`` takes the client's (or the proxy's) ``X-Request-ID`` when it is
   a short token of safe characters, otherwise makes a new one; it stores the id in
   ``request.META`` (so views reading ``request.headers["X-Request-ID"]``, which save it on
   ``Attempt.request_id``, see the same value), in a context variable for the duration of
   the request, and echoes it in the response's ``X-Request-ID`` header.
2. ``RequestIdFilter`` (installed on the log handlers by ``settings.LOGGING``) copies the
   context variable onto every log record, so JSON log lines carry ``request_id``.
3. When a task is published while a request id is current (the grading task is sent on
   commit, still inside the request), ``before_task_publish`` adds it to the message's
   headers.
4. In the worker, ``task_prerun`` reads the header back into the context variable (and the
   task's name and id into another), so the worker's log lines for that task carry the same
   ``request_id``; ``task_postrun`` clears them (a worker thread runs many tasks).

The signal receivers are connected by ``interview_platform.celery`` so they are active in
every process that imports the Celery app: web processes (publishers) and workers.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# Celery message header carrying the request id from the publisher to the worker.
TASK_HEADER = "request_id"
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
task_var: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("task", default=("", ""))

access_logger = logging.getLogger("interview_platform.requests")


def request_id_get() -> str:
    """The request id of the current request or task ('' outside both)."""
    return request_id_var.get()


def request_id_clean(value: str | None) -> str:
    """``value`` when it is a usable request id, else ''."""
    value = (value or "").strip()
    return value if _REQUEST_ID_RE.fullmatch(value) else ""


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id (see the module's protocol) and logs one access line per request.

    Installed first in ``MIDDLEWARE`` so every later log line of the request carries the id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_clean(request.META.get("HTTP_X_REQUEST_ID")) or request_id_new()
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.__dict__.pop("headers", None)  # ``request.headers`` is cached from META
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (and, inside a Celery task, ``task_name``/``task_id``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        task_name, task_id = task_var.get()
        if task_id and not hasattr(record, "task_id"):
            record.task_name = task_name
            record.task_id = task_id
        return True


# --- Celery signal receivers (connected by interview_platform.celery) ---------------------


def task_publish_add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """``before_task_publish``: put the current request id into the message headers."""
    request_id = request_id_var.get()
    if headers is not None and request_id and not headers.get(TASK_HEADER):
        headers[TASK_HEADER] = request_id


def task_request_id(task: Any) -> str:
    """The request id a task's message carried ('' when it had none)."""
    request = getattr(task, "request", None)
    value = getattr(request, TASK_HEADER, None)
    if not value:
        headers = getattr(request, "headers", None) or {}
        value = headers.get(TASK_HEADER) if isinstance(headers, dict) else None
    return request_id_clean(value if isinstance(value, str) else None)


def task_prerun_set_context(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """``task_prerun``: make the task's request id (and identity) current for its log lines."""
    request_id_var.set(task_request_id(task))
    task_var.set((getattr(task, "name", "") or "", task_id or ""))


def task_postrun_clear_context(**kwargs: Any) -> None:
    """``task_postrun``: a worker thread goes on to other tasks; forget this one's ids."""
    request_id_var.set("")
    task_var.set(("", ""))


def celery_logging_keep_django_config(**kwargs: Any) -> None:
    """``setup_logging``: connected so Celery leaves logging to Django's ``LOGGING`` (JSON, filters)."""


def celery_signals_connect() -> None:
    from celery import signals

    signals.before_task_publish.connect(task_publish_add_request_id, weak=False, dispatch_uid="request-id-publish")
    signals.task_prerun.connect(task_prerun_set_context, weak=False, dispatch_uid="request-id-prerun")
    signals.task_postrun.connect(task_postrun_clear_context, weak=False, dispatch_uid="request-id-postrun")
    signals.setup_logging.connect(celery_logging_keep_django_config, weak=False, dispatch_uid="django-logging")
