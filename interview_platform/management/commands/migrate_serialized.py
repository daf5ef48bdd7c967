"""``migrate``, one process at a time.

Every web container runs the entrypoint, which migrates before it serves; with several
replicas starting together, two ``migrate`` runs could race on the same table. On
PostgreSQL this command holds a session advisory lock around ``migrate``, so the second
replica waits and then finds nothing left to apply. Other databases run plain ``migrate``.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# An arbitrary constant that names this lock among the database's advisory locks.
MIGRATION_LOCK_ID = 7_310_442_001


class Command(BaseCommand):
    help = "Apply migrations, holding a PostgreSQL advisory lock so replicas starting together take turns."

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            try:
                call_command("migrate", interactive=False, verbosity=options["verbosity"])
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
