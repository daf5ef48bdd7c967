"""Browser fixtures: Debian's Chromium driven by Playwright, a live server and a real Celery worker.

Never ``playwright install``: the browser is the system package (``apt-get install chromium
fonts-wqy-microhei``; ``.ci/run`` installs it). Without /usr/bin/chromium the browser tests
are skipped with that reason. Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API keeps an event loop on the main thread; the ORM calls the tests make
# between browser steps are ordinary synchronous calls, so Django's async guard is lifted here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium fonts-wqy-microhei); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot() -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def _sqlite_dirty_reads(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The in-memory test database is shared between threads through SQLite's shared cache,
    # where a reader's table lock makes a concurrent writer fail at once ("database table is
    # locked") instead of waiting. Readers that take no locks remove that test-only clash.
    if connection.vendor == "sqlite":
        connection.cursor().execute("PRAGMA read_uncommitted = 1")


@pytest.fixture
def grading_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker (the grading area's ``celery_worker_running``) in a thread of this process.

    On SQLite the worker grades one attempt at a time: the shared-cache in-memory test
    database does not let two threads write at once. PostgreSQL gets the thread pool.
    """
    from django.db import connection
    from django.db.backends.signals import connection_created

    from tests.support.worker import celery_worker_running, queues_purge

    sqlite = connection.vendor == "sqlite"
    if sqlite:
        connection_created.connect(_sqlite_dirty_reads)
    queues_purge()
    try:
        options = {"pool": "solo", "concurrency": 1} if sqlite else {}
        with celery_worker_running(**options) as worker:
            yield worker
    finally:
        connection_created.disconnect(_sqlite_dirty_reads)
