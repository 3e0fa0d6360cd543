"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat completions, for tests.

Tests script its behaviour as a queue of ``Reply`` objects (a normal answer, a
429 with Retry-After, a 5xx, a slow answer, a malformed body, a dropped
connection, an error JSON...), point a client at ``server.base_url`` and then
inspect ``server.requests`` (every request, parsed). Standard library only:
``http.server`` in a daemon thread.

Use the ``fake_openai`` fixture (``pytest_plugins = ["tests.fakes.openai_server"]``)
or ``with FakeOpenAIServer() as server: ...``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    """One scripted behaviour of the server.

    Attributes:
        status: HTTP status.
        content: the assistant message text (answers only).
        body: raw body bytes, sent as is (overrides ``content``).
        headers: extra response headers.
        delay: seconds to wait before answering.
        drop: close the connection without any response.
        prompt_tokens, completion_tokens, reasoning_tokens: reported usage
            (``reasoning_tokens`` None: no ``completion_tokens_details``).
        finish_reason: reported finish reason.
        usage: False to leave usage out of the body.
        content_type: the response's Content-Type header.
    """

    status: int = 200
    content: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    prompt_tokens: int = 100
    completion_tokens: int = 50
    reasoning_tokens: int | None = None
    finish_reason: str = "stop"
    usage: bool = True
    content_type: str = "application/json"

    # ---- constructors -------------------------------------------------
    @classmethod
    def answer(cls, content: str | None, **kwargs: Any) -> Reply:
        """A normal 200 answer with ``content`` as the assistant message."""
        return cls(content=content, **kwargs)

    @classmethod
    def program(cls, source: str, *, text: str = "Here is the improved program.", **kwargs: Any) -> Reply:
        """An answer holding ``source`` in one fenced python block."""
        return cls.answer(f"{text}\n\n```python\n{source.rstrip()}\n```\n", **kwargs)

    @classmethod
    def diff(cls, blocks: Sequence[tuple[str, str]], *, text: str = "Changes:", **kwargs: Any) -> Reply:
        """An answer made of SEARCH/REPLACE blocks ``[(search, replace), ...]``."""
        parts = [text]
        for search, replace in blocks:
            parts.append(f"<<<<<<< SEARCH\n{search.rstrip(chr(10))}\n=======\n{replace.rstrip(chr(10))}\n>>>>>>> REPLACE")
        return cls.answer("\n\n".join(parts) + "\n", **kwargs)

    @classmethod
    def no_code(cls, text: str = "I think the law is already good; no change needed.") -> Reply:
        """An answer with prose only."""
        return cls.answer(text)

    @classmethod
    def truncated(cls, source: str, *, keep: float = 0.6) -> Reply:
        """An answer cut off inside its code block (finish_reason ``length``)."""
        cut = source[: max(1, int(len(source) * keep))]
        return cls.answer(f"Here it is:\n\n```python\n{cut}", finish_reason="length")

    @classmethod
    def error(cls, status: int, message: str = "error", *, headers: dict[str, str] | None = None,
              param: str | None = None, type_: str = "invalid_request_error") -> Reply:
        """An OpenAI-style error JSON with ``status``."""
        body = {"error": {"message": message, "type": type_, "param": param, "code": None}}
        return cls(status=status, body=json.dumps(body).encode(), headers=dict(headers or {}))

    @classmethod
    def rate_limited(cls, retry_after: str | None = "0", *, header: str = "Retry-After") -> Reply:
        """429 with a ``Retry-After`` header (seconds or HTTP date; None: no header)."""
        headers = {header: retry_after} if retry_after is not None else {}
        return cls.error(429, "Rate limit reached, slow down", headers=headers, type_="rate_limit_error")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls.error(status, "The server had an error while processing your request", type_="server_error")

    @classmethod
    def bad_request(cls, message: str, *, param: str | None = None) -> Reply:
        return cls.error(400, message, param=param)

    @classmethod
    def slow(cls, delay: float, content: str = "too late") -> Reply:
        """An answer that only comes after ``delay`` seconds."""
        return cls.answer(content, delay=delay)

    @classmethod
    def malformed(cls) -> Reply:
        """200 with a JSON content type and a body that is not JSON."""
        return cls(body=b'{"id": "chatcmpl-broken", "choices": [{"message": ')

    @classmethod
    def hang(cls) -> Reply:
        """Accept the request and never answer (until the server stops): a wedged inference server."""
        return cls(delay=24 * 3600.0)

    @classmethod
    def garbage(cls) -> Reply:
        """200 with bytes that are no JSON at all, as a proxy's error page or a binary blob."""
        return cls(body=b"<html><body>502 Bad Gateway</body></html>\x00\xff\xfe" * 8, content_type="text/html")

    @classmethod
    def dropped(cls) -> Reply:
        """Close the connection without answering."""
        return cls(drop=True)

    # ---- wire form ----------------------------------------------------
    def payload(self, model: str) -> bytes:
        if self.body is not None:
            return self.body
        out: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.content},
                    "finish_reason": self.finish_reason,
                }
            ],
        }
        if self.usage:
            usage: dict[str, Any] = {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            }
            if self.reasoning_tokens is not None:
                usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
            out["usage"] = usage
        return json.dumps(out).encode()


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    at: float

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def text(self) -> str:
        """All message contents joined (for prompt assertions)."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


Script = Reply | Callable[[RecordedRequest], Reply]


class FakeOpenAIServer:
    """An OpenAI-compatible chat-completions server driven by a script.

    Args:
        default: reply when the script is empty (None: a 400 error saying the
            script is exhausted, which the client does not retry).
    """

    def __init__(self, default: Script | None = None) -> None:
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._script: deque[Script] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": []}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                record = RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=raw,
                    body=body,
                    at=time.monotonic(),
                )
                reply = server._next(record)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "unknown path"}}')
                    return
                if reply.delay and server._stop.wait(reply.delay):
                    return
                if reply.drop:
                    self.close_connection = True
                    return
                model = record.model or "fake-model"
                self._send(reply.status, reply.payload(model), reply.headers, reply.content_type)

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- script -------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Script) -> FakeOpenAIServer:
        """Queue replies (or callables request -> Reply), served in order."""
        with self._lock:
            self._script.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._lock:
            return len(self._script)

    def _next(self, record: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(record)
            item = self._script.popleft() if self._script else self.default
        if item is None:
            return Reply.error(400, "fake server: the script is exhausted")
        return item(record) if callable(item) else item

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A started ``FakeOpenAIServer``; stopped after the test."""
    with FakeOpenAIServer() as server:
        yield server
