"""A grader that asks an OpenAI-compatible chat-completions server (OpenAI, DeepSeek, Qwen, vLLM, Ollama).

The official ``openai`` SDK with ``base_url`` speaks to all of them. The SDK's own retries
are off (``max_retries=0``): the Celery task owns retries, with backoff, so one place
decides how often a provider is asked. Output is requested as JSON-schema structured
output at temperature 0; a provider that rejects schemas (HTTP 400 naming
``response_format``/``json_schema``) is asked again in plain JSON mode, and that is
remembered for the rest of the process. Whatever comes back is validated before it
becomes a result.

Error classes (``GraderError.permanent``): 429, 5xx, 408/409, timeouts, connection
errors and invalid output are transient; 401, 403, other 4xx and configuration
problems are permanent.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

import openai

from attempts.graders.base import (
    EVIDENCE_MAX_CHARS,
    FEEDBACK_MAX_CHARS,
    GraderError,
    GradingRequest,
    GradingResult,
    KeyPointResult,
    MisconceptionFound,
    clip,
)
from attempts.graders.prompt import PROMPT_VERSION, messages_build, response_schema

logger = logging.getLogger(__name__)

NAME = "openai-compatible"
# Servers that need no key (Ollama, a local vLLM) still get one: the SDK insists on it.
PLACEHOLDER_API_KEY = "not-needed"
STRUCTURED_OUTPUT_MODES = ("auto", "json_schema", "json_object")

# (base_url, model) pairs whose server refused JSON-schema output in this process.
_schema_rejected: set[tuple[str, str]] = set()
_schema_rejected_lock = threading.Lock()

_FENCE_RE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class OpenAICompatibleGrader:
    name = NAME

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout_seconds: float,
        structured_output: str = "auto",
    ) -> None:
        if not model:
            raise GraderError("LLM_MODEL is empty: name the model to grade with.", permanent=True)
        if structured_output not in STRUCTURED_OUTPUT_MODES:
            raise GraderError(f"LLM_STRUCTURED_OUTPUT must be one of {STRUCTURED_OUTPUT_MODES}.", permanent=True)
        if not base_url and not api_key:
            raise GraderError(
                "Set LLM_API_KEY (OpenAI) or LLM_BASE_URL (another OpenAI-compatible server).", permanent=True
            )
        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.structured_output = structured_output
        self.timeout_seconds = timeout_seconds
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or PLACEHOLDER_API_KEY,
            timeout=timeout_seconds,
            max_retries=0,
        )

    # --- the interface ------------------------------------------------------------------

    def grade(self, request: GradingRequest) -> GradingResult:
        messages = messages_build(request)
        started = time.monotonic()
        mode = self._mode()
        try:
            completion = self._create(messages, self._response_format(mode, request))
        except openai.BadRequestError as error:
            if mode == "json_schema" and self.structured_output == "auto" and _mentions_schema(error):
                logger.info("%s rejected JSON-schema output; using JSON mode from now on", self.base_url)
                with _schema_rejected_lock:
                    _schema_rejected.add((self.base_url, self.model))
                mode = "json_object"
                try:
                    completion = self._create(messages, self._response_format(mode, request))
                except openai.BadRequestError as second:
                    raise _classify(second, self.timeout_seconds) from second
            else:
                raise _classify(error, self.timeout_seconds) from error
        latency_ms = int((time.monotonic() - started) * 1000)
        return self._result(request, completion, latency_ms=latency_ms, mode=mode)

    # --- internals ---------------------------------------------------------------------

    def _mode(self) -> str:
        if self.structured_output != "auto":
            return self.structured_output
        with _schema_rejected_lock:
            rejected = (self.base_url, self.model) in _schema_rejected
        return "json_object" if rejected else "json_schema"

    @staticmethod
    def _response_format(mode: str, request: GradingRequest) -> dict[str, Any]:
        if mode == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": "grade", "strict": True, "schema": response_schema(request)},
        }

    def _create(self, messages: list[dict[str, str]], response_format: dict[str, Any]) -> Any:
        """One request; SDK errors other than a 400 are turned into ``GraderError`` here."""
        try:
            return self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
                response_format=response_format,  # type: ignore[arg-type]
            )
        except openai.BadRequestError:
            raise
        except openai.OpenAIError as error:
            raise _classify(error, self.timeout_seconds) from error

    def _result(self, request: GradingRequest, completion: Any, *, latency_ms: int, mode: str) -> GradingResult:
        try:
            raw = completion.model_dump_json()
        except Exception:  # a provider's odd payload must not hide the grade's raw response
            raw = repr(completion)
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise GraderError("The model returned no choices.")
        message = choices[0].message
        if getattr(message, "refusal", None):
            raise GraderError(f"The model refused to grade: {clip(str(message.refusal), 200)}", permanent=True)
        content = message.content or ""
        if not content.strip():
            raise GraderError(f"The model returned an empty answer (finish_reason={choices[0].finish_reason}).")
        data = _parse_json(content)
        usage = getattr(completion, "usage", None)
        return output_validate(
            request,
            data,
            grader=NAME,
            model=getattr(completion, "model", None) or self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            latency_ms=latency_ms,
            raw_response=raw,
            extra={"response_format": mode},
        )


def _mentions_schema(error: openai.APIStatusError) -> bool:
    text = f"{error.message} {getattr(error, 'body', '')}".lower()
    return "response_format" in text or "json_schema" in text or "json schema" in text


def _classify(error: openai.OpenAIError, timeout_seconds: float) -> GraderError:
    if isinstance(error, openai.APITimeoutError):
        return GraderError(f"The LLM did not answer within {timeout_seconds:g} s.")
    if isinstance(error, openai.APIConnectionError):
        return GraderError(f"Could not connect to the LLM server: {error}")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        detail = clip(str(error.message), 300)
        if status == 401:
            return GraderError(f"The LLM server rejected the API key (401): {detail}", permanent=True)
        if status == 403:
            return GraderError(f"The LLM server refused access (403): {detail}", permanent=True)
        if status == 429:
            return GraderError(f"The LLM server is rate limiting requests (429): {detail}")
        if status >= 500 or status in (408, 409):
            return GraderError(f"The LLM server failed ({status}): {detail}")
        if status == 404:
            return GraderError(f"The LLM server does not know this model or path (404): {detail}", permanent=True)
        return GraderError(f"The LLM server refused the request ({status}): {detail}", permanent=True)
    return GraderError(f"The LLM client failed: {error}")


def _parse_json(content: str) -> Any:
    text = content.strip()
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GraderError(f"The model's answer is not valid JSON ({error.msg} at position {error.pos}).") from None


def output_validate(request: GradingRequest, data: Any, **provenance: Any) -> GradingResult:
    """Turn a model's JSON into a result, or raise a transient ``GraderError`` saying what is wrong.

    Key points and misconceptions are referred to by their 1-based number in the rubric;
    a number outside it is invalid output (the model may not invent criteria). A rubric
    point the model left out counts as not covered.
    """
    if not isinstance(data, dict):
        raise GraderError("The model's answer is not a JSON object.")
    score = data.get("score")
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        raise GraderError(f"The model's score {score!r} is not an integer from 0 to 100.")

    covered: dict[int, tuple[bool, str]] = {}
    for item in _list_of_objects(data, "key_points"):
        index = _index(item, len(request.key_points), "key point")
        if not isinstance(item.get("covered"), bool):
            raise GraderError(f"Key point {index}: 'covered' is not true or false.")
        evidence = _string(item.get("evidence", ""), f"key point {index} evidence")
        covered.setdefault(index, (item["covered"], clip(evidence, EVIDENCE_MAX_CHARS) if item["covered"] else ""))
    key_points = tuple(
        KeyPointResult(
            point=point, covered=covered.get(number, (False, ""))[0], evidence=covered.get(number, (0, ""))[1]
        )
        for number, point in enumerate(request.key_points, start=1)
    )

    found: dict[int, str] = {}
    for item in _list_of_objects(data, "misconceptions"):
        index = _index(item, len(request.misconceptions), "misconception")
        found.setdefault(index, clip(_string(item.get("evidence", ""), f"misconception {index} evidence"), 300))
    misconceptions = tuple(
        MisconceptionFound(misconception=request.misconceptions[index - 1], evidence=evidence)
        for index, evidence in sorted(found.items())
    )

    feedback = _string(data.get("feedback"), "feedback").strip()
    if not feedback:
        raise GraderError("The model's feedback is empty.")
    return GradingResult(
        score=score,
        key_points=key_points,
        misconceptions=misconceptions,
        feedback=clip(feedback, FEEDBACK_MAX_CHARS),
        prompt_version=PROMPT_VERSION,
        **provenance,
    )


def _list_of_objects(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise GraderError(f"The model's '{key}' is not a list of objects.")
    return value


def _index(item: dict[str, Any], count: int, what: str) -> int:
    index = item.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= count:
        raise GraderError(f"The model named {what} {index!r}, which is not in the rubric (1–{count}).")
    return index


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise GraderError(f"The model's {what} is not a string.")
    return value
