"""Reusable test infrastructure: a fake OpenAI-compatible server and real Celery workers."""
