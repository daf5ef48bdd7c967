"""The Celery application: configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery

from interview_platform.observability import celery_signals_connect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_platform.settings")

app = Celery("interview_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The request id travels from the web request into the grading task's log lines; Celery
# leaves logging to Django's LOGGING (JSON in production).
celery_signals_connect()
