"""Real Celery workers for tests.

``celery_worker_running()`` starts a worker in a thread of the test process
(``celery.contrib.testing.worker.start_worker``): it works with the in-memory broker
(which exists only inside this process) and with Redis when ``CELERY_BROKER_URL`` names it.
Tests using it need ``transactional_db`` so the worker's own database connection sees
committed rows and ``transaction.on_commit`` really sends the task.

``WorkerProcess`` runs ``celery worker`` as a separate process (to kill it with SIGKILL),
on a broker and a database that both processes can reach: Redis or the file-system
transport under a temporary directory, and PostgreSQL or a SQLite file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
QUEUES = ("grading", "default")


def _sqlite_dirty_reads(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The in-memory SQLite test database is shared between threads through SQLite's shared
    # cache, where a reader's table lock makes a concurrent writer fail at once ("database
    # table is locked") instead of waiting. Readers that take no locks remove that test-only
    # clash; one worker thread (the solo pool) keeps writers from meeting.
    if connection.vendor == "sqlite":
        connection.cursor().execute("PRAGMA read_uncommitted = 1")


@contextmanager
def celery_worker_running(
    *,
    queues: Sequence[str] = QUEUES,
    pool: str | None = None,
    concurrency: int | None = None,
    shutdown_timeout: float = 15.0,
) -> Iterator[Any]:
    """A real worker consuming ``queues`` in a thread, stopped (and joined) on exit.

    PostgreSQL gets the thread pool production uses; the in-memory SQLite test database
    gets one task at a time (see ``_sqlite_dirty_reads``).
    """
    from celery.contrib.testing.worker import start_worker
    from django.db import connection
    from django.db.backends.signals import connection_created

    from interview_platform.celery import app

    sqlite = connection.vendor == "sqlite"
    if sqlite:
        connection_created.connect(_sqlite_dirty_reads)
        # The test's own connection, when it may touch the database; a module-wide worker is
        # started outside any test's database access, and its tests prepare their own.
        with contextlib.suppress(RuntimeError):
            sqlite_connection_prepare()
    try:
        with start_worker(
            app,
            pool=pool or ("solo" if sqlite else "threads"),
            concurrency=concurrency or (1 if sqlite else 2),
            perform_ping_check=False,
            queues=list(queues),
            shutdown_timeout=shutdown_timeout,
            loglevel="WARNING",
        ) as worker:
            yield worker
    finally:
        if sqlite:
            connection_created.disconnect(_sqlite_dirty_reads)


def sqlite_connection_prepare() -> None:
    """Call in each test sharing a worker started earlier: the test's SQLite connection reads dirty too."""
    from django.db import connection

    if connection.vendor == "sqlite":
        _sqlite_dirty_reads(None, connection)


def worker_wait_idle(timeout: float = 15.0) -> None:
    """Wait until the in-process worker runs no task (before a test's database is flushed)."""
    from celery.worker import state

    wait_until(lambda: not state.active_requests, timeout=timeout, what="the worker to finish its tasks")


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(interval)


def broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def database_is_postgresql() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


class WorkerProcess:
    """``celery -A interview_platform worker`` in its own process group.

    ``env`` extends the test process's environment; the caller supplies the broker and
    database variables (see ``subprocess_environment``).
    """

    def __init__(self, *, env: dict[str, str], log_path: Path, beat: bool = False, pool: str = "threads") -> None:
        self.env = env
        self.log_path = log_path
        self.beat = beat
        self.pool = pool
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "interview_platform",
            "worker",
            "-Q",
            ",".join(QUEUES),
            "-P",
            self.pool,
            "-c",
            "2",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        if self.beat:
            command += ["-B", "-s", str(self.log_path.parent / f"beat-{time.monotonic_ns()}")]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no acknowledgement, no cleanup."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def subprocess_environment(*, var_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """Environment for a worker process that shares this test's broker and database.

    Redis is shared as configured; otherwise the file-system transport under ``var_dir``.
    PostgreSQL: the test database by name; SQLite: ``var_dir/db.sqlite3`` (the caller copies
    the in-memory test database there and back, see ``sqlite_copy``).
    """
    env = {
        "APP_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "interview_platform.settings_test",
        "VAR_DIR": str(var_dir),
        "CELERY_FILESYSTEM_POLLING_INTERVAL": "0.05",
        "LOG_LEVEL": "info",
        **extra,
    }
    if broker_is_redis():
        env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    else:
        env["CELERY_BROKER_URL"] = "filesystem://"
    database = settings.DATABASES["default"]
    if database_is_postgresql():
        user = database.get("USER") or ""
        password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = f"{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}"
        env["DATABASE_URL"] = f"postgres://{auth}{host}/{database['NAME']}"
        env.pop("TEST_DATABASE_NAME", None)
    else:
        env["DATABASE_URL"] = ""
    return env


def sqlite_copy(*, to_file: Path | None = None, from_file: Path | None = None) -> None:
    """Copy the (in-memory) SQLite test database to a file, or a file back into it."""
    import sqlite3

    from django.db import connection

    connection.ensure_connection()
    live = connection.connection
    if to_file is not None:
        target = sqlite3.connect(to_file)
        with target:
            live.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
        target.close()
    if from_file is not None:
        source = sqlite3.connect(from_file)
        source.backup(live)
        source.close()


def sender_app(env: dict[str, str]) -> Celery:
    """A Celery app publishing to the subprocess's broker (the test process's own may be in-memory)."""
    app = Celery("test-sender")
    url = env["CELERY_BROKER_URL"]
    app.conf.broker_url = url
    if url.startswith("filesystem"):
        queue = str(Path(env["VAR_DIR"]) / "broker" / "queue")
        Path(queue).mkdir(parents=True, exist_ok=True)
        (Path(env["VAR_DIR"]) / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        app.conf.broker_transport_options = {
            "data_folder_in": queue,
            "data_folder_out": queue,
            "processed_folder": str(Path(env["VAR_DIR"]) / "broker" / "processed"),
            "control_folder": str(Path(env["VAR_DIR"]) / "broker" / "control"),
            "store_processed": False,
        }
    app.conf.task_serializer = "json"
    app.conf.accept_content = ["json"]
    return app


def queues_purge(queues: Sequence[str] = QUEUES) -> None:
    """Drop messages left on the test broker's queues (the in-memory one outlives tests)."""
    from interview_platform.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)


def queued_messages(queue: str = "grading", *, headers: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Take the messages waiting on ``queue``: [{"task": name, "args": [...]}] plus the named headers."""
    from interview_platform.celery import app

    taken = []
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_declare(queue=queue, durable=True, auto_delete=False)
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            taken.append(
                {"task": message.headers["task"], "args": list(args)}
                | {name: message.headers.get(name) for name in headers}
            )
    return taken


def _pools_reset(app: Celery) -> None:
    # Dropped, not closed: kombu's global pool registry may hand the same pools out again.
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_unreachable() -> Iterator[None]:
    """Point this process's Celery app at a closed port: publishing fails as when the broker is down."""
    from interview_platform.celery import app

    closed = "redis://127.0.0.1:9/0"
    saved = app.conf.broker_url, app.conf.broker_transport_options, os.environ.get("CELERY_BROKER_WRITE_URL")
    app.conf.broker_url = closed
    app.conf.broker_transport_options = {}
    os.environ["CELERY_BROKER_WRITE_URL"] = closed  # Celery reads it before the configuration
    _pools_reset(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options, write_url = saved
        if write_url is None:
            os.environ.pop("CELERY_BROKER_WRITE_URL", None)
        else:
            os.environ["CELERY_BROKER_WRITE_URL"] = write_url
        _pools_reset(app)
