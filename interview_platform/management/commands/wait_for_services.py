"""Wait until the database (and, if asked, the broker) accept connections.

The first step of ``docker/entrypoint.sh``: in compose, containers start together and
PostgreSQL takes a few seconds to accept connections; failing at once would make every
service restart-loop. Exits non-zero with a readable message when the wait times out.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from interview_platform.health import broker_check, database_check


class Command(BaseCommand):
    help = "Wait until the database (and with --broker, the Celery broker) accept connections."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--broker", action="store_true", help="Wait for the Celery broker too.")
        parser.add_argument("--timeout", type=float, default=60.0, help="Give up after this many seconds (60).")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between tries (1).")

    def handle(self, *args: Any, broker: bool, timeout: float, interval: float, **options: Any) -> None:
        if timeout <= 0 or interval <= 0:
            raise CommandError("--timeout and --interval must be positive numbers of seconds.")
        checks = {"database": database_check}
        if broker:
            checks["broker"] = broker_check
        deadline = time.monotonic() + timeout
        pending = dict(checks)
        last = ""
        while True:
            for name, check in list(pending.items()):
                result = check()
                if result == "ok":
                    self.stdout.write(f"{name}: reachable")
                    del pending[name]
                else:
                    last = f"{name}: {result}"
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise CommandError(f"Gave up after {timeout:g} s waiting for {', '.join(pending)} ({last}).")
            connection.close()
            time.sleep(interval)
