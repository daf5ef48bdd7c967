"""Graders behind one interface (``base.Grader``), chosen by settings.

``GRADER=offline`` (the default without an LLM configured) or ``GRADER=openai`` with
``LLM_BASE_URL``, ``LLM_API_KEY``, ``LLM_MODEL``, ``LLM_TIMEOUT_SECONDS`` and
``LLM_STRUCTURED_OUTPUT``. Graders are cached per configuration: the OpenAI client keeps
its connection pool, and a test that overrides settings gets a grader built from them.
"""

from __future__ import annotations

import threading

from django.conf import settings

from attempts.graders.base import (
    Grader,
    GraderError,
    GradingRequest,
    GradingResult,
    KeyPointResult,
    MisconceptionFound,
    key_points_derive,
)

__all__ = [
    "Grader",
    "GraderError",
    "GradingRequest",
    "GradingResult",
    "KeyPointResult",
    "MisconceptionFound",
    "grader_from_settings",
    "key_points_derive",
]

_cache: dict[tuple[object, ...], Grader] = {}
_cache_lock = threading.Lock()


def grader_from_settings() -> Grader:
    """The configured grader. Raises ``GraderError(permanent=True)`` on a bad configuration."""
    kind = settings.GRADER
    if kind == "offline":
        key: tuple[object, ...] = ("offline",)
    elif kind == "openai":
        key = (
            "openai",
            settings.LLM_BASE_URL,
            settings.LLM_API_KEY,
            settings.LLM_MODEL,
            settings.LLM_TIMEOUT_SECONDS,
            settings.LLM_STRUCTURED_OUTPUT,
        )
    else:
        raise GraderError(f"GRADER must be 'offline' or 'openai', not {kind!r}.", permanent=True)
    with _cache_lock:
        grader = _cache.get(key)
        if grader is None:
            grader = _build(kind)
            _cache[key] = grader
    return grader


def _build(kind: str) -> Grader:
    if kind == "offline":
        from attempts.graders.offline import OfflineGrader

        return OfflineGrader()
    from attempts.graders.openai_compatible import OpenAICompatibleGrader

    return OpenAICompatibleGrader(
        base_url=settings.LLM_BASE_URL or None,
        api_key=settings.LLM_API_KEY or None,
        model=settings.LLM_MODEL,
        timeout_seconds=settings.LLM_TIMEOUT_SECONDS,
        structured_output=settings.LLM_STRUCTURED_OUTPUT,
    )
