"""Settings for the test suite: the same module, read with ``APP_ENV=test``.

Tests run on SQLite and the in-memory broker unless the environment names PostgreSQL
(``DATABASE_URL``) and Redis (``CELERY_BROKER_URL``, ``REDIS_URL``).
"""

import os

os.environ.setdefault("APP_ENV", "test")

from interview_platform.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
