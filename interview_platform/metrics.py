"""Prometheus metrics at ``/metrics``, for operators only.

Two sources, chosen so that every number is right however many processes serve the site:

* **HTTP requests** (``interview_http_requests_total``, ``interview_http_request_duration_seconds``)
  are counted by ``RequestMetricsMiddleware`` in the process that served them. Under
  gunicorn that is several worker processes, so prometheus-client's multiprocess mode is
  used whenever ``PROMETHEUS_MULTIPROC_DIR`` is set (``docker/gunicorn.conf.py`` sets and
  empties it at start and marks dead workers): each process writes its own file, a scrape
  sums them. Without the variable (``runserver``, tests) the process's own registry is used.
* **Grading and queues** are computed at scrape time from the database and the broker:
  attempts by status, attempts stuck past the sweeper's threshold, submission-to-grade
  latency and the grader's call latency (histograms over ``Attempt``/``Grade`` rows), final
  grading failures by reason, and the depth of each Celery queue. Workers run in other
  containers (``--scale worker=N``) whose counters a web process cannot see, while the
  database row is the source of truth for every attempt (see the grading pipeline), so
  reading it gives exact, restart-proof numbers with no per-worker exporter to discover.
  The queries are aggregates over indexed columns; a scrape every 15–60 s costs little.

Access: ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time) or the session
of a user with the admin role (operators; curators are staff for the admin site but are not
operators). Anyone else gets 401 (no credentials) or 403, and nothing is revealed.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "interview_http_requests",
    "HTTP requests served, by method, route and status code.",
    ["method", "view", "status"],
)
REQUEST_DURATION = Histogram(
    "interview_http_request_duration_seconds",
    "Time to serve an HTTP request, by method and route.",
    ["method", "view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Submission to grade: queueing, retries and the grader's call together.
GRADING_LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# One grader call (``Grade.latency_ms``).
GRADER_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)

# Final failure messages sorted into a few stable labels (first match wins), so the
# ``reason`` label stays bounded whatever text the provider sent.
FAILURE_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("timeout", re.compile(r"time[ d]?out|timelimit|timed out|took longer than|超时", re.IGNORECASE)),
    ("rate_limited", re.compile(r"\b429\b|rate.?limit|quota|too many requests", re.IGNORECASE)),
    ("authentication", re.compile(r"\b40[13]\b|auth|api key|permission|forbidden", re.IGNORECASE)),
    ("provider_error", re.compile(r"\b5\d\d\b|server error|unavailable|connection|connect", re.IGNORECASE)),
    ("malformed_output", re.compile(r"json|schema|malformed|invalid|validat|score must|empty", re.IGNORECASE)),
    ("configuration", re.compile(r"config|model|not found|\b404\b|\b400\b", re.IGNORECASE)),
    ("worker_lost", re.compile(r"worker|lost|too many tries|gave up|stale", re.IGNORECASE)),
)


def failure_reason(message: str) -> str:
    for reason, pattern in FAILURE_REASONS:
        if pattern.search(message):
            return reason
    return "other"


def _route_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


class RequestMetricsMiddleware:
    """Counts and times every request, labelled by route name (bounded), never by raw path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = _route_name(request)
        REQUESTS.labels(request.method or "", view, str(response.status_code)).inc()
        REQUEST_DURATION.labels(request.method or "", view).observe(time.perf_counter() - started)
        return response


def _histogram(
    name: str, documentation: str, rows: list[dict[str, object]], buckets: tuple[float, ...], label: str | None
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=[label] if label else [])
    for row in rows:
        counts = [(str(bound), float(row[f"le_{index}"] or 0)) for index, bound in enumerate(buckets)]
        counts.append(("+Inf", float(row["total"] or 0)))
        family.add_metric([str(row[label])] if label else [], counts, float(row["sum_seconds"] or 0.0))
    return family


class GradingCollector(Collector):
    """Grading and queue metrics read from the database and the broker at scrape time."""

    def collect(self) -> Iterator[Metric]:
        yield from self._database_metrics()
        yield from self._queue_metrics()

    def _database_metrics(self) -> Iterator[Metric]:
        from attempts.models import Attempt, Grade

        up = GaugeMetricFamily("interview_database_up", "1 when the database answered this scrape.")
        try:
            by_status = dict(Attempt.objects.order_by().values_list("status").annotate(n=Count("id")))
            stale_before = timezone.now() - timedelta(seconds=settings.GRADING_STALE_AFTER_SECONDS)
            stale = dict(
                Attempt.objects.order_by()
                .filter(status__in=[Attempt.Status.QUEUED, Attempt.Status.GRADING], updated_at__lt=stale_before)
                .values_list("status")
                .annotate(n=Count("id"))
            )
            waited = ExpressionWrapper(F("graded_at") - F("created_at"), output_field=DurationField())
            graded = (
                Attempt.objects.order_by()
                .filter(status=Attempt.Status.GRADED, graded_at__isnull=False)
                .annotate(waited=waited)
                .aggregate(
                    total=Count("id"),
                    sum_waited=Sum("waited"),
                    **{
                        f"le_{index}": Count("id", filter=Q(waited__lte=timedelta(seconds=bound)))
                        for index, bound in enumerate(GRADING_LATENCY_BUCKETS)
                    },
                )
            )
            sum_waited = graded.pop("sum_waited")
            graded["sum_seconds"] = sum_waited.total_seconds() if sum_waited else 0.0
            calls = list(
                Grade.objects.order_by()
                .filter(kind=Grade.Kind.AUTO, latency_ms__isnull=False)
                .values("grader")
                .annotate(
                    total=Count("id"),
                    sum_ms=Sum("latency_ms"),
                    **{
                        f"le_{index}": Count("id", filter=Q(latency_ms__lte=int(bound * 1000)))
                        for index, bound in enumerate(GRADER_CALL_BUCKETS)
                    },
                )
            )
            failures: dict[str, int] = {}
            for message, count in (
                Attempt.objects.order_by()
                .filter(status=Attempt.Status.FAILED)
                .values_list("error_message")
                .annotate(n=Count("id"))
            ):
                reason = failure_reason(message or "")
                failures[reason] = failures.get(reason, 0) + count
        except Exception:  # a scrape must still answer (and say the database is down)
            logger.exception("metrics: the database could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        attempts = GaugeMetricFamily("interview_attempts", "Attempts by grading status.", labels=["status"])
        for status in Attempt.Status.values:
            attempts.add_metric([status], by_status.get(status, 0))
        yield attempts

        stuck = GaugeMetricFamily(
            "interview_attempts_stale",
            "Attempts queued or grading for longer than GRADING_STALE_AFTER_SECONDS (the sweeper re-sends them).",
            labels=["status"],
        )
        for status in (Attempt.Status.QUEUED, Attempt.Status.GRADING):
            stuck.add_metric([status], stale.get(status, 0))
        yield stuck

        yield _histogram(
            "interview_grading_latency_seconds",
            "Time from submission to grade, over graded attempts.",
            [graded],
            GRADING_LATENCY_BUCKETS,
            None,
        )
        for row in calls:
            row["sum_seconds"] = (row.pop("sum_ms") or 0) / 1000
        yield _histogram(
            "interview_grader_call_latency_seconds",
            "Duration of one grader call (an LLM request, or the offline grader), by grader.",
            calls,
            GRADER_CALL_BUCKETS,
            "grader",
        )

        failed = GaugeMetricFamily(
            "interview_grading_failures",
            "Attempts whose grading failed for good, by reason.",
            labels=["reason"],
        )
        for reason in [name for name, _ in FAILURE_REASONS] + ["other"]:
            failed.add_metric([reason], failures.get(reason, 0))
        yield failed

    def _queue_metrics(self) -> Iterator[Metric]:
        from interview_platform.celery import app as celery_app

        queues = sorted(
            {settings.CELERY_TASK_DEFAULT_QUEUE}
            | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
        )
        up = GaugeMetricFamily("interview_broker_up", "1 when the broker answered this scrape.")
        depth = GaugeMetricFamily(
            "interview_queue_depth",
            "Messages waiting in each Celery queue (not yet taken by a worker).",
            labels=["queue"],
        )
        try:
            with celery_app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel = connection.default_channel
                for queue in queues:
                    try:
                        _, count, _ = channel.queue_declare(queue=queue, passive=True)
                    except Exception:  # a queue no one declared yet holds nothing
                        count = 0
                    depth.add_metric([queue], count)
        except Exception:
            logger.warning("metrics: the broker could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield depth


class _ProcessRegistry(Collector):
    """The process's default registry, as one collector of a per-scrape registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """A registry holding the request metrics (all processes) and the grading collector."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(GradingCollector())
    return registry


def operator_allowed(request: HttpRequest) -> bool | None:
    """True for an operator, False for a signed-in non-operator, None when no credentials came."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        from accounts.roles import Role, user_has_role

        return bool(user.is_active and user_has_role(user, Role.ADMIN))
    return None


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = operator_allowed(request)
    if allowed is None:
        response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not allowed:
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
