"""Create one demo account per role (development only) and print them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.roles import role_groups_ensure
from accounts.services import demo_accounts_ensure


class Command(BaseCommand):
    help = "Create the role groups and, in development, one demo account per role."

    def handle(self, *args: Any, **options: Any) -> None:
        role_groups_ensure()
        if not settings.DEMO_ACCOUNTS:
            self.stdout.write("Demo accounts are disabled in this mode (APP_ENV or DEMO_ACCOUNTS).")
            return
        accounts = demo_accounts_ensure()
        self.stdout.write(self.style.SUCCESS("Demo accounts (development only):"))
        for username, password, role in accounts:
            self.stdout.write(f"  {role:<10} {username:<10} password: {password}")
