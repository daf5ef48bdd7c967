"""The one interface every grader implements: a request in, a validated result out.

Graders import no models and touch no database; ``attempts.services`` builds the request
from an attempt and its reference version and stores the result as a ``Grade``. A grader
signals failure only with ``GraderError``: ``permanent=True`` means retrying cannot help
(bad credentials, a request the provider refuses, bad configuration); otherwise the
caller may retry (rate limits, server errors, timeouts, output that failed validation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

FEEDBACK_MAX_CHARS = 2000
EVIDENCE_MAX_CHARS = 300


class GraderError(Exception):
    """Grading could not produce a valid result. ``permanent`` says whether a retry can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class GradingRequest:
    """Everything a grader may see. ``answer`` is untrusted data, never instructions."""

    question: str
    reference_answer: str
    key_points: tuple[str, ...]
    misconceptions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class KeyPointResult:
    point: str
    covered: bool
    evidence: str = ""


@dataclass(frozen=True)
class MisconceptionFound:
    misconception: str
    evidence: str = ""


@dataclass(frozen=True)
class GradingResult:
    """A validated judgement plus its provenance (who graded, with what, at what cost)."""

    score: int
    key_points: tuple[KeyPointResult, ...]
    misconceptions: tuple[MisconceptionFound, ...]
    feedback: str
    grader: str
    model: str
    prompt_version: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
    raw_response: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.score, bool) or not isinstance(self.score, int) or not 0 <= self.score <= 100:
            raise GraderError(f"score must be an integer from 0 to 100, got {self.score!r}")
        if not self.feedback.strip():
            raise GraderError("feedback is empty")
        if len(self.feedback) > FEEDBACK_MAX_CHARS:
            raise GraderError(f"feedback is longer than {FEEDBACK_MAX_CHARS} characters")

    def key_points_json(self) -> list[dict[str, Any]]:
        return [{"point": p.point, "covered": p.covered, "evidence": p.evidence} for p in self.key_points]

    def misconceptions_json(self) -> list[dict[str, str]]:
        return [{"misconception": m.misconception, "evidence": m.evidence} for m in self.misconceptions]


class Grader(Protocol):
    """``grade`` returns a validated result or raises ``GraderError``; it never returns junk."""

    name: str
    model: str

    def grade(self, request: GradingRequest) -> GradingResult: ...


# Markdown list markers, headings and emphasis, stripped when a body is cut into points.
_MARKUP_RE = re.compile(r"^\s*(?:[-*+•]|\d+[.、)）]|[（(]\d+[)）]|#+)\s*")
_INLINE_MARKUP_RE = re.compile(r"\*\*|__|`")
_SENTENCE_RE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
DERIVED_POINTS_MAX = 8


def key_points_derive(body: str) -> tuple[str, ...]:
    """Rubric points taken from a reference body that has none: its bullets, else its sentences.

    Used for versions published before the rubric existed (the imported seed), so both
    graders judge against the same numbered points.
    """
    lines = [_INLINE_MARKUP_RE.sub("", line) for line in body.splitlines() if line.strip()]
    bullets = [_MARKUP_RE.sub("", line).strip(" *_`") for line in lines if _MARKUP_RE.match(line)]
    if len(bullets) >= 2:
        candidates = bullets
    else:
        text = " ".join(_MARKUP_RE.sub("", line).strip(" *_`") for line in lines)
        candidates = [match.group(0).strip() for match in _SENTENCE_RE.finditer(text)]
    points = []
    for candidate in candidates:
        cleaned = candidate.strip().rstrip("。；;！!？?")
        if len(cleaned) >= 4 and cleaned not in points:
            points.append(cleaned)
    return tuple(points[:DERIVED_POINTS_MAX]) or ((body.strip()[:200],) if body.strip() else ())


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
