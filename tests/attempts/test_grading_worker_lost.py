"""A worker process killed with SIGKILL in the middle of grading: the attempt still ends graded.

The worker is a real ``celery worker`` process on a broker and a database this test also
reaches: Redis or the file-system transport, PostgreSQL or a SQLite file (the in-memory
test database is copied there and back). The LLM call hangs on the fake server, the
process group is killed, a second worker with its beat starts, and the sweeper finds the
attempt stuck in ``grading`` past the threshold, resets it and sends it again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from attempts.models import Attempt
from tests.factories import AttemptFactory
from tests.support.fake_openai import Hang
from tests.support.worker import (
    WorkerProcess,
    database_is_postgresql,
    sender_app,
    sqlite_copy,
    subprocess_environment,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_killed_mid_grade_still_ends_graded(tmp_path: Path, fake_openai, trainee):
    attempt = AttemptFactory(user=trainee)
    hang = Hang(max_s=60)
    fake_openai.script(hang)  # the first grading request never answers; the next ones do
    env = subprocess_environment(
        var_dir=tmp_path,
        extra={
            "GRADER": "openai",
            "LLM_BASE_URL": fake_openai.url,
            "LLM_API_KEY": "",
            "LLM_MODEL": "fake-model",
            "LLM_TIMEOUT_SECONDS": "30",
            "GRADING_STALE_AFTER_SECONDS": "2",
            "GRADING_SWEEP_INTERVAL_SECONDS": "1",
        },
    )
    postgresql = database_is_postgresql()
    sqlite_file = tmp_path / "db.sqlite3"
    if not postgresql:
        sqlite_copy(to_file=sqlite_file)

    def status() -> str:
        if postgresql:
            return Attempt.objects.values_list("status", flat=True).get(pk=attempt.pk)
        with sqlite3.connect(sqlite_file, timeout=10) as connection:
            return connection.execute("SELECT status FROM attempts_attempt WHERE id = ?", [attempt.pk]).fetchone()[0]

    first = WorkerProcess(env=env, log_path=tmp_path / "worker-1.log").start()
    second = WorkerProcess(env=env, log_path=tmp_path / "worker-2.log", beat=True)
    try:
        sender_app(env).send_task("attempts.tasks.grade_attempt", args=[attempt.pk], queue="grading")
        fake_openai.wait_for_requests(1, timeout=30)  # the worker is waiting on the LLM
        assert status() == "grading"

        first.kill()

        second.start()
        wait_until(lambda: status() == "graded", timeout=40, interval=0.2, what="the attempt to be graded")
    finally:
        hang.release.set()
        first.kill()
        second.stop()
    if not postgresql:
        sqlite_copy(from_file=sqlite_file)

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.GRADED, first.log() + second.log()
    assert attempt.grading_tries == 2  # claimed by the killed worker, then again after the sweep
    grade = attempt.grades.get()
    assert grade.is_current and grade.grader == "openai-compatible"
    assert len(fake_openai.requests) == 2
    assert "sweeper: 1 stale grading reset" in second.log()
