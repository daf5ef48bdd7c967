"""``/healthz`` and ``/readyz`` with the database or the broker up, down, or both.

Each case runs the real settings in a fresh interpreter whose environment points the
database or the broker at a closed port on loopback (nothing listens there: the connection
is refused at once), then asks the probes through Django's test client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="{host}")
out = {{}}
for path in ("/healthz", "/readyz"):
    response = client.get(path)
    out[path] = [response.status_code, json.loads(response.content), response.get("Cache-Control", "")]
print(json.dumps(out))
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(tmp_path: Path, environ: dict[str, str], host: str = "testserver") -> dict[str, list]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE", "CELERY", "REDIS", "APP_", "DJANGO", "TEST_"))
    }
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "interview_platform.settings",
        "APP_ENV": "test",
        "VAR_DIR": str(tmp_path),
        **environ,
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(host=host)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_both_reachable(tmp_path: Path) -> None:
    # SQLite file and the in-memory broker: both always answer.
    answers = probe(tmp_path, {"CELERY_BROKER_URL": "memory://"})
    assert answers["/healthz"][:2] == [200, {"status": "ok"}]
    assert answers["/readyz"][:2] == [200, {"status": "ok", "database": "ok", "broker": "ok"}]
    assert "no-cache" in answers["/readyz"][2]


def test_database_down(tmp_path: Path) -> None:
    answers = probe(
        tmp_path,
        {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/nothing", "CELERY_BROKER_URL": "memory://"},
    )
    assert answers["/healthz"][:2] == [200, {"status": "ok"}]  # liveness does not depend on the database
    status, body, _ = answers["/readyz"]
    assert status == 503
    assert body == {"status": "unavailable", "database": "unavailable (OperationalError)", "broker": "ok"}


def test_broker_down(tmp_path: Path) -> None:
    answers = probe(tmp_path, {"CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    assert answers["/healthz"][0] == 200
    status, body, _ = answers["/readyz"]
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("unavailable (")


def test_both_down_in_production_whatever_the_host(tmp_path: Path) -> None:
    """A probe from a load balancer names no allowed host and speaks plain HTTP: still answered."""
    answers = probe(
        tmp_path,
        {
            "APP_ENV": "production",
            "SECRET_KEY": "s" * 64,
            "ALLOWED_HOSTS": "interview.example.com",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/nothing",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0",
        },
        host="10.0.0.7:8000",
    )
    assert answers["/healthz"][:2] == [200, {"status": "ok"}]
    status, body, _ = answers["/readyz"]
    assert status == 503
    assert body["database"] == "unavailable (OperationalError)"
    assert body["broker"].startswith("unavailable (")


def test_wait_for_services_gives_up_with_a_readable_error(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE", "CELERY", "REDIS", "APP_", "DJANGO", "TEST_"))
    }
    env.update(
        APP_ENV="test",
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/nothing",
        CELERY_BROKER_URL="memory://",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "wait_for_services", "--timeout", "1", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Gave up after 1 s waiting for database (database: unavailable (OperationalError))" in result.stderr
