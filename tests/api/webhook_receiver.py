"""A real HTTP server on loopback that receives webhooks the way a careful client would.

It verifies ``X-Signature`` over ``X-Timestamp`` and the raw body, rejects stale timestamps
and requests it has already seen (replays), and can be told to fail the first N requests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from attempts.webhooks import webhook_signature_verify


@dataclass
class Received:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    secret: str = ""
    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    accepted_events: list[dict[str, Any]] = field(default_factory=list)
    seen_signatures: set[str] = field(default_factory=set)
    event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = self._decide(headers, body)
            self.requests.append(Received(status=status, headers=headers, body=body))
            if status == 200:
                self.event.set()
            return status

    def _decide(self, headers: dict[str, str], body: bytes) -> int:
        if self.fail_first > 0:
            self.fail_first -= 1
            return 500
        signature = headers.get("X-Signature", "")
        if not webhook_signature_verify(
            secret=self.secret, timestamp=headers.get("X-Timestamp", ""), body=body, signature=signature
        ):
            return 401
        if signature in self.seen_signatures:
            return 409  # the very same signed request again: a replay
        self.seen_signatures.add(signature)
        payload = json.loads(body)
        if payload["id"] not in {event["id"] for event in self.accepted_events}:
            self.accepted_events.append(payload)
        return 200


def start_receiver(receiver: WebhookReceiver) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"rejected")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks/platform"
