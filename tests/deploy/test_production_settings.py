"""Production mode: refuses to start without its secrets, hardened values, `check --deploy` clean.

(The basic refusals — SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, a real broker — are also in
``tests/interview_platform/test_settings.py``; these add the rest of the production profile.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each case starts a fresh interpreter

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "q8V_2rX-kT9mZ4wLpA7sD1fG6hJ0nB3cE5yU8iO2vR7tW4xK9zM1aS6dF3gH0jL",
    "ALLOWED_HOSTS": "interview.example.com",
    "DATABASE_URL": "postgres://interview:secret@db.internal:5432/interview",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "REDIS_URL": "redis://redis.internal:6379/1",
}


def run(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE", "CELERY", "REDIS", "APP_", "DJANGO", "TEST_", "SECRET", "ALLOWED", "DEBUG"))
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **environ}, capture_output=True, text=True, timeout=120
    )


def settings_values(environ: dict[str, str], *names: str) -> dict[str, object]:
    code = (
        "import json, interview_platform.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = run(["-c", code], environ)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS must be set"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "nosuchdb://host/name"}, "DATABASE_URL is not a valid database URL"),
        ({"CELERY_BROKER_URL": ""}, "CELERY_BROKER_URL must name a real broker"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL must name a real broker"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 32 characters"),
    ],
)
def test_production_refuses_to_start(override: dict[str, str], message: str) -> None:
    result = run(["manage.py", "check"], {**PRODUCTION, **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_check_deploy_is_clean() -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_still_reports_a_weakened_setting() -> None:
    """The clean result above is earned: turning a protection off is reported."""
    weakened = {**PRODUCTION, "SECURE_HSTS_SECONDS": "0"}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], weakened)
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_the_hardened_profile() -> None:
    values = settings_values(
        PRODUCTION,
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        "DEMO_ACCOUNTS",
        "STORAGES",
        "MIDDLEWARE",
        "LOG_FORMAT",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "DATABASES",
    )
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["DEMO_ACCOUNTS"] is False
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    middleware = values["MIDDLEWARE"]
    assert middleware[0] == "interview_platform.health.OpsProbeMiddleware"
    assert "interview_platform.csp.ContentSecurityPolicyMiddleware" in middleware
    assert middleware.index("django.middleware.security.SecurityMiddleware") < middleware.index(
        "whitenoise.middleware.WhiteNoiseMiddleware"
    )
    assert values["LOG_FORMAT"] == "json"
    assert values["WEBHOOK_ALLOW_PRIVATE_TARGETS"] is False
    assert values["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 5


def test_demo_accounts_are_never_created_in_production() -> None:
    assert settings_values({**PRODUCTION, "DEMO_ACCOUNTS": "true"}, "DEMO_ACCOUNTS") == {"DEMO_ACCOUNTS": False}


def test_collectstatic_builds_the_manifest_the_image_ships(tmp_path: Path) -> None:
    """The Dockerfile's build step: every static reference resolves in the manifest storage."""
    result = run(
        ["manage.py", "collectstatic", "--noinput", "--verbosity", "0"], {**PRODUCTION, "STATIC_ROOT": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    assert {"portal/portal.css", "portal/portal.js", "vendor/htmx/htmx.min.js"} <= set(manifest)
