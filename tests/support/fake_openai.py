"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol.

The real ``openai`` SDK talks to it over TCP, so client configuration, timeouts, error
statuses and response parsing are exercised for real. Each test scripts the replies::

    fake_openai.script(Status(429), Grade(score=90))   # first a rate limit, then a grade
    fake_openai.reject_json_schema = True               # a provider without schema support

Replies are consumed in order; when the script is exhausted ``default`` answers (a valid
grade covering every rubric point). Every request is recorded (``requests``) with its
parsed JSON body and headers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_POINT_RE = re.compile(r"^\d+\. ", re.MULTILINE)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def user_prompt(self) -> str:
        return next((m["content"] for m in self.body.get("messages", []) if m.get("role") == "user"), "")

    @property
    def response_format_type(self) -> str | None:
        return (self.body.get("response_format") or {}).get("type")


@dataclass
class Reply:
    """Base of the scripted replies: ``respond`` returns (status, JSON body)."""

    delay_s: float = field(default=0.0, kw_only=True)

    def respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError


def rubric_size(prompt: str) -> tuple[int, int]:
    """How many key points and misconceptions the prompt lists (numbered lines per section)."""
    points = prompt.split("【评分要点】", 1)[-1].split("【常见错误】", 1)
    misconceptions = points[1].split("【候选人回答】", 1)[0] if len(points) > 1 else ""
    return len(_POINT_RE.findall(points[0])), len(_POINT_RE.findall(misconceptions))


def completion(content: str | None, *, model: str = "fake-model", usage: tuple[int, int] = (321, 54)) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


@dataclass
class Grade(Reply):
    """A valid grade. ``covered`` lists covered point numbers (default: all of them)."""

    score: Any = 88
    covered: tuple[int, ...] | None = None
    misconceptions: tuple[int, ...] = ()
    feedback: str = "回答覆盖了主要要点，表述准确。"
    model: str = "fake-model"
    extra: dict[str, Any] = field(default_factory=dict)

    def content(self, request: RecordedRequest) -> dict[str, Any]:
        points, _ = rubric_size(request.user_prompt)
        covered = set(range(1, points + 1)) if self.covered is None else set(self.covered)
        return {
            "score": self.score,
            "key_points": [
                {"index": n, "covered": n in covered, "evidence": "原文引用" if n in covered else ""}
                for n in range(1, points + 1)
            ],
            "misconceptions": [{"index": n, "evidence": "原文引用"} for n in self.misconceptions],
            "feedback": self.feedback,
            **self.extra,
        }

    def respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        body_model = self.model or request.body.get("model", "fake-model")
        return 200, completion(json.dumps(self.content(request), ensure_ascii=False), model=body_model)


@dataclass
class Content(Reply):
    """A 200 whose message content is this raw text (e.g. malformed JSON)."""

    text: str | None = "not json"

    def respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        return 200, completion(self.text)


@dataclass
class Status(Reply):
    """An error status with the OpenAI error body."""

    code: int = 500
    message: str = "fake server error"

    def respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
        kind = kinds.get(self.code, "server_error")
        return self.code, {"error": {"message": self.message, "type": kind, "code": None}}


@dataclass
class Hang(Reply):
    """Hold the request open until ``release`` is set (or ``max_s`` passes), then answer ``then``."""

    release: threading.Event = field(default_factory=threading.Event)
    max_s: float = 60.0
    then: Reply = field(default_factory=Grade)

    def respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        self.release.wait(self.max_s)
        return self.then.respond(request)


def Slow(seconds: float, then: Reply | None = None) -> Reply:
    """``then`` (a valid grade by default) after ``seconds``: longer than the client timeout → a timeout."""
    reply = then or Grade()
    reply.delay_s = seconds
    return reply


class FakeOpenAI:
    """The server. ``url`` is the ``base_url`` to configure (ends in ``/v1``)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Reply | Callable[[RecordedRequest], Reply] = Grade()
        self.reject_json_schema = False
        self.api_key: str | None = None  # when set, other keys get a 401
        self._script: deque[Reply | Callable[[RecordedRequest], Reply]] = deque()
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply | Callable[[RecordedRequest], Reply]) -> None:
        with self._lock:
            self._script.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._received:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._received.wait(left)
            return list(self.requests)

    def _next(self, request: RecordedRequest) -> Reply:
        with self._received:
            self.requests.append(request)
            self._received.notify_all()
            if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
                return Status(401, "Incorrect API key provided")
            if self.reject_json_schema and request.response_format_type == "json_schema":
                return Status(400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported.")
            step = self._script.popleft() if self._script else self.default
        return step(request) if callable(step) and not isinstance(step, Reply) else step

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparseable": raw.decode("utf-8", "replace")}
                request = RecordedRequest(
                    path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body
                )
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                reply = fake._next(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                status, payload = reply.respond(request)
                self._send(status, payload)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def fake_openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
