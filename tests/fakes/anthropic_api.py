"""A loopback fake of the Anthropic Messages API, for driving the real ``anthropic`` client.

It serves ``POST /v1/messages`` on 127.0.0.1 at a free port from a thread, answers with
whatever a test scripted (a tool call, a text-only reply, a body that is not JSON, an HTTP
error, a slow answer), and records every request so a test can assert what the client sent:
the tool schema, the system prompt, the user text, the key header.

Usage::

    with FakeAnthropicAPI() as api:
        api.reply_tool_use({"intents": ["feedback"]})
        client = anthropic.AsyncAnthropic(api_key="k", base_url=api.base_url)
        ...
        assert api.requests[0].body["tool_choice"]["type"] == "tool"

A delayed answer waits on an event that :meth:`FakeAnthropicAPI.close` sets, so a test that
times out early never leaves a handler sleeping behind it.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, TypeVar

import pytest

__all__ = ["FakeAnthropicAPI", "FakeResponse", "RecordedRequest", "anthropic_api", "claude_users"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  #: header names lower-cased
    body: Any  #: the parsed JSON body, or the raw text when it was not JSON


@dataclass
class FakeResponse:
    """One scripted answer."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    delay_s: float = 0.0  #: wait this long before answering (the timeout path)
    headers: dict[str, str] = field(default_factory=dict)


def message_body(content: list[dict[str, Any]], *, stop_reason: str = "tool_use") -> dict[str, Any]:
    """A Messages API response body carrying ``content`` blocks."""
    return {
        "id": "msg_fake_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-fake",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 120, "output_tokens": 40},
    }


def error_body(kind: str, message: str) -> dict[str, Any]:
    """A Messages API error body (``kind`` such as ``api_error`` or ``overloaded_error``)."""
    return {"type": "error", "error": {"type": kind, "message": message}}


class FakeAnthropicAPI:
    """The fake server; script answers with the ``reply_*`` methods, read ``requests`` after.

    Answers are used in order; when the script is empty the last scripted answer repeats,
    and before any is scripted the fake answers 500.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[FakeResponse] = deque()
        self._last: FakeResponse = FakeResponse(
            status=500, body=json.dumps(error_body("api_error", "nothing scripted")).encode()
        )
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a kept-alive connection must not hold up close()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-anthropic-api",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: give it to the client as ``base_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- scripting -------------------------------------------------------------------------

    def reply(self, response: FakeResponse) -> None:
        """Queue one answer."""
        with self._lock:
            self._script.append(response)

    def reply_json(self, body: Any, *, status: int = 200, delay_s: float = 0.0) -> None:
        """Queue a JSON answer."""
        self.reply(FakeResponse(status=status, body=json.dumps(body).encode(), delay_s=delay_s))

    def reply_tool_use(
        self, tool_input: Any, *, name: str = "record_understanding", delay_s: float = 0.0
    ) -> None:
        """Queue a good answer: one ``tool_use`` block calling ``name`` with ``tool_input``."""
        block = {"type": "tool_use", "id": "toolu_fake_01", "name": name, "input": tool_input}
        self.reply_json(message_body([block]), delay_s=delay_s)

    def reply_text(self, text: str) -> None:
        """Queue an answer with a text block and no ``tool_use`` block."""
        self.reply_json(message_body([{"type": "text", "text": text}], stop_reason="end_turn"))

    def reply_invalid_json(self) -> None:
        """Queue a 200 answer whose body is not JSON."""
        self.reply(FakeResponse(body=b'{"id": "msg_fake_01", "content": [{"type": "tool_use", '))

    def reply_error(self, status: int, *, kind: str = "api_error", message: str = "boom") -> None:
        """Queue an HTTP error (500 ``api_error``, 529 ``overloaded_error``, ...)."""
        self.reply_json(error_body(kind, message), status=status)

    def reply_slow(self, delay_s: float, tool_input: Any | None = None) -> None:
        """Queue an answer that arrives only after ``delay_s`` seconds (or at close)."""
        self.reply_tool_use(
            tool_input if tool_input is not None else {"intents": ["unknown"]}, delay_s=delay_s
        )

    def _next(self) -> FakeResponse:
        with self._lock:
            if self._script:
                self._last = self._script.popleft()
            return self._last

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving; wakes any delayed answer first."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropicAPI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                try:
                    body: Any = json.loads(raw)
                except json.JSONDecodeError:
                    body = raw
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(RecordedRequest("POST", self.path, headers, body))
                if self.path.split("?")[0] != "/v1/messages":
                    self._send(
                        FakeResponse(
                            status=404,
                            body=json.dumps(error_body("not_found_error", self.path)).encode(),
                        )
                    )
                    return
                response = fake._next()
                if response.delay_s and fake._closing.wait(response.delay_s):
                    return  # closing: drop the connection unanswered
                self._send(response)

            def _send(self, response: FakeResponse) -> None:
                try:
                    self.send_response(response.status)
                    self.send_header("content-type", response.content_type)
                    self.send_header("content-length", str(len(response.body)))
                    self.send_header("request-id", "req_fake_01")
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return _Handler


@pytest.fixture
def anthropic_api() -> Iterator[FakeAnthropicAPI]:
    """A running :class:`FakeAnthropicAPI`, closed after the test."""
    with FakeAnthropicAPI() as api:
        yield api


class _Closing(Protocol):
    async def aclose(self) -> None: ...


_C = TypeVar("_C", bound=_Closing)


@asynccontextmanager
async def claude_users(cls: Callable[..., _C], **defaults: Any) -> AsyncIterator[Callable[..., _C]]:
    """A maker of Claude users (a brain, an advisor) built with ``defaults`` and any overrides;
    every one it made is closed on exit."""
    made: list[_C] = []

    def make(**overrides: Any) -> _C:
        made.append(cls(**(defaults | overrides)))
        return made[-1]

    try:
        yield make
    finally:
        for user in made:
            await user.aclose()
