"""Benchmarks run on the real shipped bank: the seed imported and the corrections loaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def shipped_bank(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        call_command("import_questions", verbosity=0)
        call_command("load_curated_bank", verbosity=0)
    yield
