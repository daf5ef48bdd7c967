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


def broker_folders_ensure() -> None:
    """Create the file-system broker's folders (embedded mode): publishing fails without them."""
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    if not str(getattr(settings, "CELERY_BROKER_URL", "")).startswith("filesystem"):
        return
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@app.on_after_configure.connect
def _on_after_configure(sender: Celery, **kwargs: object) -> None:
    broker_folders_ensure()
