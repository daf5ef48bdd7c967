"""The compose start-up sequence without Docker: production mode on PostgreSQL and Redis.

What each container of ``docker/compose.yaml`` does is run here as a process, through the
same ``docker/entrypoint.sh``: the image's build step (collectstatic into the manifest
storage), then ``entrypoint.sh web`` (wait for the database, migrate under the advisory
lock, gunicorn with its config file) and ``entrypoint.sh worker`` (wait for the database and
the broker, a Celery worker on the thread pool). An attempt is submitted over HTTP with an
API token and must end graded; on the way the test reads the JSON logs of both processes
(the request id reaches the worker's line for the grading task), the probes and the
operators' metrics.

Services: ``STARTUP_TEST_DATABASE_URL`` (a database this test drops and creates; default
``postgres://postgres@127.0.0.1:5432/startup_test_<pid>``) and ``STARTUP_TEST_REDIS_URL``
(default ``redis://127.0.0.1:6379/13``). Redis is not emptied, so a run in parallel is not
disturbed; a message left there by an earlier run names an attempt id that is absent here (a
no-op) or queued anyway (graded as it would be): the database row decides, not the broker.
The test is skipped, saying why, only when PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REQUEST_ID = "deploy-test-" + secrets.token_hex(6)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Site:
    url: str
    env: dict[str, str]
    web_log: Path
    worker_log: Path

    def request(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        # The reverse proxy in front of the site terminates TLS and says so.
        all_headers = {"X-Forwarded-Proto": "https", "Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def _manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _start(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [str(ROOT / "docker" / "entrypoint.sh"), role],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def _wait_for(predicate: Any, *, timeout: float, what: str, logs: tuple[Path, ...] = ()) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tails}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database_url = os.environ.get("STARTUP_TEST_DATABASE_URL") or (
        f"postgres://postgres@127.0.0.1:5432/startup_test_{os.getpid()}"
    )
    redis_url = os.environ.get("STARTUP_TEST_REDIS_URL") or "redis://127.0.0.1:6379/13"
    if not _reachable(database_url, 5432):
        pytest.skip(f"PostgreSQL is not reachable at {urlsplit(database_url).netloc} (set STARTUP_TEST_DATABASE_URL)")
    if not _reachable(redis_url, 6379):
        pytest.skip(f"Redis is not reachable at {urlsplit(redis_url).netloc} (set STARTUP_TEST_REDIS_URL)")

    import psycopg

    database = urlsplit(database_url)
    name = database.path.lstrip("/")
    admin_url = urlunsplit(database._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    directory = tmp_path_factory.mktemp("production")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE", "CELERY", "REDIS", "APP_", "DJANGO", "TEST_", "PROMETHEUS", "LLM_"))
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_url,
            "REDIS_URL": redis_url,
            "METRICS_TOKEN": secrets.token_urlsafe(32),
            "GRADER": "offline",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "VAR_DIR": str(directory / "var"),
            "STATIC_ROOT": str(directory / "static"),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "2",
            "CELERY_CONCURRENCY": "2",
            "CELERY_WORKER_NAME": f"startup-test-{os.getpid()}",
            "WAIT_FOR_SERVICES_TIMEOUT": "30",
        }
    )
    # The image's build step: static files into the compressed manifest storage.
    _manage(env, "collectstatic", "--noinput", "--verbosity", "0")

    site = Site(f"http://127.0.0.1:{port}", env, directory / "web.log", directory / "worker.log")
    web = _start("web", env, site.web_log)
    worker = _start("worker", env, site.worker_log)
    try:
        _wait_for(
            lambda: web.poll() is None and _healthy(site),
            timeout=120,
            what="gunicorn to answer /healthz",
            logs=(site.web_log,),
        )
        yield site
    finally:
        _stop(worker)
        _stop(web)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _healthy(site: Site) -> bool:
    try:
        return site.request("GET", "/healthz")[0] == 200
    except OSError:
        return False


def test_an_attempt_submitted_over_http_ends_graded(site: Site) -> None:
    # Content and an account, as an operator would create them (no demo accounts in production).
    _manage(site.env, "import_questions", "--verbosity", "0")
    raw_key = _manage(
        site.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; from accounts.services import api_token_create; "
        "user = get_user_model().objects.create_user('deploy-trainee', password='Unused-password-1'); "
        "print(api_token_create(user=user, name='deploy test').raw_key)",
    ).splitlines()[-1]
    auth = {"Authorization": f"Token {raw_key}"}

    status, _, body = site.request("GET", "/api/v1/questions/?page_size=1", headers=auth)
    assert status == 200, body
    question = json.loads(body)["results"][0]["id"]

    status, headers, body = site.request(
        "POST",
        "/api/v1/attempts/",
        body={"question": question, "answer": "大模型的微调通常先做监督微调（SFT），再用人类反馈强化学习对齐。"},
        headers={**auth, "X-Request-ID": REQUEST_ID},
    )
    assert status == 202, body
    assert headers["X-Request-ID"] == REQUEST_ID
    attempt_id = json.loads(body)["id"]

    def graded() -> dict[str, Any] | None:
        code, _, payload = site.request("GET", f"/api/v1/attempts/{attempt_id}/", headers=auth)
        assert code == 200, payload
        attempt = json.loads(payload)
        assert attempt["status"] != "failed", attempt
        return attempt if attempt["status"] == "graded" else None

    attempt = _wait_for(graded, timeout=60, what="the attempt to be graded", logs=(site.web_log, site.worker_log))
    assert 0 <= attempt["grade"]["score"] <= 100
    assert attempt["grade"]["feedback"]

    # The worker's log line for the grading task carries the request id of the submission.
    def worker_line() -> dict[str, Any] | None:
        for line in _json_lines(site.worker_log):
            if line.get("request_id") == REQUEST_ID and line.get("task_name") == "attempts.tasks.grade_attempt":
                return line
        return None

    line = _wait_for(worker_line, timeout=10, what="the grading task's log line", logs=(site.worker_log,))
    assert line["task_id"]
    # The operators' metrics count it, read from the database at scrape time.
    status, _, body = site.request("GET", "/metrics", headers={"Authorization": f"Bearer {site.env['METRICS_TOKEN']}"})
    assert status == 200, body
    text = body.decode()
    assert 'interview_attempts{status="graded"} 1.0' in text
    assert "interview_grading_latency_seconds_count 1.0" in text
    assert 'interview_grader_call_latency_seconds_count{grader="offline"} 1.0' in text
    assert 'interview_http_requests_total{method="POST",status="202",view="api:attempt-list"} 1.0' in text

    assert any(
        (entry.get("request_id"), entry.get("path"), entry.get("status")) == (REQUEST_ID, "/api/v1/attempts/", 202)
        for entry in _json_lines(site.web_log)
    ), "the web access log line names the request id"


def test_security_headers_and_https_redirect(site: Site) -> None:
    request = urllib.request.Request(site.url + "/accounts/login/", method="GET")
    with pytest.raises(urllib.error.HTTPError) as redirected:
        # Plain HTTP (no X-Forwarded-Proto) is sent to HTTPS; urllib does not follow to https here.
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    assert redirected.value.code == 301
    assert redirected.value.headers["Location"].startswith("https://")

    status, headers, body = site.request("GET", "/accounts/login/")
    assert status == 200, body
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    # Static files come from whitenoise with hashed names (collected into the manifest).
    assert b"/static/portal/portal." in body
    static_path = body.split(b'href="/static/portal/portal.', 1)[1].split(b'"', 1)[0].decode()
    status, headers, _ = site.request("GET", f"/static/portal/portal.{static_path}")
    assert status == 200
    assert "max-age=315360000" in headers.get("Cache-Control", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_probes_and_operator_metrics(site: Site) -> None:
    status, _, body = site.request("GET", "/readyz", headers={"Host": "10.1.2.3:8000"})
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "database": "ok", "broker": "ok"}

    assert site.request("GET", "/metrics")[0] == 401
    assert site.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 403
    status, _, body = site.request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {site.env['METRICS_TOKEN']}", "Host": "web:8000"}
    )
    assert status == 200, body
    text = body.decode()
    assert "interview_broker_up 1.0" in text
    assert "interview_database_up 1.0" in text
    assert 'interview_queue_depth{queue="grading"}' in text
    # Counted in gunicorn's worker processes, summed through the multiprocess directory
    # (the probes are answered before the counting middleware and are not counted).
    assert 'interview_http_requests_total{method="GET",status="401",view="metrics"} 1.0' in text, text
