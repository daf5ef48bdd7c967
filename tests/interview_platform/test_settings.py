"""Settings parsing: typed values, fail-fast on malformed input, production secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from interview_platform.env import Env

ROOT = Path(__file__).resolve().parents[2]


def test_bool_accepts_common_spellings():
    env = Env({"A": "yes", "B": "0", "C": "TRUE", "D": ""})
    assert env.bool("A") is True
    assert env.bool("B") is False
    assert env.bool("C") is True
    assert env.bool("D", default=True) is False
    assert env.bool("MISSING", default=True) is True


def test_bool_rejects_garbage_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        Env({"DEBUG": "maybe"}).bool("DEBUG")


def test_int_parses_and_enforces_minimum():
    env = Env({"N": " 42 ", "BAD": "4x", "LOW": "0"})
    assert env.int("N", 1) == 42
    assert env.int("MISSING", 7) == 7
    with pytest.raises(ImproperlyConfigured, match="BAD must be an integer"):
        env.int("BAD", 1)
    with pytest.raises(ImproperlyConfigured, match="LOW must be at least 1"):
        env.int("LOW", 5, minimum=1)


def test_list_and_choice():
    env = Env({"HOSTS": "a.example, b.example,,", "MODE": "JSON", "WRONG": "xml"})
    assert env.list("HOSTS") == ["a.example", "b.example"]
    assert env.choice("MODE", "text", ("json", "text")) == "json"
    with pytest.raises(ImproperlyConfigured, match="WRONG must be one of"):
        env.choice("WRONG", "text", ("json", "text"))


def _settings_in_subprocess(environ: dict[str, str], expression: str) -> subprocess.CompletedProcess[str]:
    """Import the settings module in a clean interpreter with exactly ``environ`` applied."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE", "CELERY", "APP_"))}
    base.update(environ)
    code = f"import interview_platform.settings as s; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60, check=False
    )


def test_development_defaults_to_sqlite_wal_and_filesystem_broker():
    result = _settings_in_subprocess(
        {"APP_ENV": "development"},
        "s.DATABASES['default']['ENGINE'], 'WAL' in s.DATABASES['default']['OPTIONS']['init_command'], "
        "s.CELERY_BROKER_URL, s.GRADER",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3 True filesystem:// offline"


def test_database_url_switches_to_postgresql():
    result = _settings_in_subprocess(
        {"APP_ENV": "development", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/interview"},
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME']",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "interview"]


def test_llm_base_url_selects_the_openai_compatible_grader():
    result = _settings_in_subprocess({"APP_ENV": "development", "LLM_BASE_URL": "http://127.0.0.1:9999/v1"}, "s.GRADER")
    assert result.stdout.strip() == "openai"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "x" * 60}, "ALLOWED_HOSTS must be set"),
        ({"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "example.com"}, "DATABASE_URL must be set"),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "example.com"}, "at least 50 characters"),
        (
            {"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "example.com", "DATABASE_URL": "postgres://u@h/db"},
            "CELERY_BROKER_URL must name a real broker",
        ),
    ],
)
def test_production_refuses_to_start_without_its_secrets(environ, message):
    result = _settings_in_subprocess({"APP_ENV": "production", "SECRET_KEY": "", **environ}, "'started'")
    assert result.returncode != 0
    assert message in result.stderr


def test_malformed_value_fails_fast():
    result = _settings_in_subprocess({"APP_ENV": "development", "GRADING_MAX_RETRIES": "many"}, "'started'")
    assert result.returncode != 0
    assert "GRADING_MAX_RETRIES must be an integer" in result.stderr
