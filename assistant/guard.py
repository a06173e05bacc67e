"""Bounds on what a client can make the service do: body time, connections, request rate.

* The body's size is FastAPI's ``max_body_size`` (Starlette's body-limit middleware
  counts the bytes that actually arrive, so a chunked body is limited too; 413).
* :class:`BodyDeadlineMiddleware` gives the whole body a deadline (408), so a client
  cannot hold a request open by sending one byte at a time.
* :class:`RateLimitMiddleware` limits chat, feedback and staff-login requests per
  client with the ``limits`` library (moving windows in memory) and answers 429
  with ``Retry-After``.
* :func:`uvicorn_config` runs uvicorn's h11 protocol with a header-size limit, an
  idle (keep-alive) timeout, a connection limit, and :class:`GuardedH11Protocol`'s
  deadline for the request line and headers.

Why written here: uvicorn has no deadline for a request's head or body (a connection
that sends half a request stays open for ever), and httptools has no header-size
limit (so the h11 protocol is used). These are small layers over uvicorn's and
ASGI's own interfaces; the rate limiting itself is the ``limits`` library's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from assistant.config import Settings

log = logging.getLogger("assistant.guard")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A complete JSON error response ``{"detail": ...}`` that also closes the connection."""
    body = json.dumps({"detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- body time


class BodyTooSlow(HTTPException):
    """The request body did not arrive within its deadline (an HTTPException, so the framework
    answers it as JSON wherever it is raised)."""

    def __init__(self) -> None:
        super().__init__(status_code=408, detail="The request body did not arrive in time.")


class BodyDeadlineMiddleware:
    """Gives a request's whole body a deadline (408), so a client cannot hold a request open by
    sending one byte at a time; refuses a declared ``Content-Length`` over the limit before
    reading (413). The bytes that do arrive are counted by FastAPI's ``max_body_size``.

    Args:
        app: the ASGI app.
        timeout_s: the whole body must arrive within this many seconds of the first read.
        limit_for: the body limit of a path (the same as its ``max_body_size``).
    """

    def __init__(self, app: ASGIApp, timeout_s: float, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                await send_json(send, 400, "Invalid Content-Length header.")
                return
            if int(length) > self.limit_for(scope["path"]):
                await send_json(send, 413, "The request is too large.")  # Starlette's own 413 is plain text
                return
        deadline: float | None = None
        body_done = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal deadline, body_done
            if body_done:  # after the body, receive() only waits for a disconnect: no deadline
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout_s
            try:
                message = await asyncio.wait_for(receive(), timeout=max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise BodyTooSlow() from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except BodyTooSlow as slow:
            if started:
                raise
            await send_json(send, slow.status_code, str(slow.detail))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


# --------------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class RateRule:
    """Requests of ``methods`` to a path matching ``path`` count against ``limits``."""

    name: str
    methods: frozenset[str]
    path: re.Pattern[str]
    limits: tuple[RateLimitItem, ...]


def rate_rules(settings: Settings) -> list[RateRule]:
    """Chat (JSON, streamed and the page's form), feedback, and the staff login."""
    post = frozenset({"POST"})
    return [
        RateRule("chat", post, re.compile(r"^/(api/chat(/stream)?)?$"), tuple(parse_many(settings.rate_limit_chat))),
        RateRule("feedback", post, re.compile(r"^/api/feedback$"), tuple(parse_many(settings.rate_limit_feedback))),
        RateRule("login", post, re.compile(r"^/staff/login/?$"), tuple(parse_many(settings.rate_limit_login))),
    ]


class RateLimitMiddleware:
    """Per-client rate limits; the client is the peer address (uvicorn puts a trusted proxy's
    ``X-Forwarded-For`` there, see ``FORWARDED_ALLOW_IPS``)."""

    def __init__(self, app: ASGIApp, rules: list[RateRule]) -> None:
        self.app = app
        self.rules = rules
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            rule = next(
                (r for r in self.rules if scope["method"] in r.methods and r.path.match(scope["path"])),
                None,
            )
            if rule is not None:
                client = (scope.get("client") or ("unknown", 0))[0]
                for item in rule.limits:
                    if not self.limiter.hit(item, rule.name, client):
                        reset = self.limiter.get_window_stats(item, rule.name, client).reset_time
                        wait = max(1, math.ceil(reset - time.time()))
                        log.info("rate limit: %s from a client (%s)", rule.name, item)
                        await send_json(
                            send,
                            429,
                            f"Too many requests. Please wait {wait} seconds and try again.",
                            {"Retry-After": str(wait)},
                        )
                        return
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------- uvicorn


class GuardedH11Protocol(H11Protocol):  # type: ignore[misc]
    """uvicorn's h11 protocol, closing a connection whose request line and headers are not
    complete ``config.header_timeout_s`` after it opened (or after the previous response).

    A module-level class reading its deadline from the (picklable) :class:`GuardedConfig`,
    so uvicorn can hand the configuration to worker processes it spawns.
    """

    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in: the body has its own deadline
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        # Not moved by later bytes: trickling a header byte at a time does not keep it open.
        self._disarm_head_deadline()
        timeout = getattr(self.config, "header_timeout_s", DEFAULT_HEADER_TIMEOUT_S)
        self._head_deadline = self.loop.call_later(timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


DEFAULT_HEADER_TIMEOUT_S = 10.0


class GuardedConfig(uvicorn.Config):  # type: ignore[misc]
    """uvicorn's configuration plus the head deadline :class:`GuardedH11Protocol` reads."""

    def __init__(self, app: Any, header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_timeout_s = header_timeout_s


def uvicorn_config(app: Any, settings: Settings, host: str | None = None, port: int | None = None, **extra: Any) -> Any:
    """The uvicorn configuration with every limit from the settings (the service, the tests and the bench).

    ``app`` may be an application, or (with ``factory=True`` and ``workers=N``) a picklable
    callable making one in each worker process.
    """
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "http": GuardedH11Protocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": settings.keep_alive_s,
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": 10,
        "log_level": "info",
        **extra,
    }
    return GuardedConfig(app, header_timeout_s=settings.header_timeout_s, **options)


class DropQueryStrings(logging.Filter):
    """Access-log lines without query strings: an old link or a stray form can carry a question there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            path = record.args[2]
            if isinstance(path, str) and "?" in path:
                record.args = (*record.args[:2], path.split("?", 1)[0], *record.args[3:])
        return True


# --------------------------------------------------------------------------- staff uploads


class UploadPathGuard:
    """Refuses a console API call that names a server file instead of an uploaded one (400),
    and an upload whose file name has a type the console does not take (415) before Gradio
    stores it.

    Gradio accepts ``{"path": ..., "meta": {"_type": "gradio.FileData"}}`` in an API call and
    copies that file into its cache for the handler; it checks that the path was uploaded
    only for an app it launched itself, not for one mounted in ours. So a logged-in caller
    could make the console read any file the service can. This reads the (already
    size-limited) JSON body of calls under ``prefix`` and lets a file through only if it lies
    in one of ``upload_dirs``.
    """

    def __init__(self, app: ASGIApp, prefix: str, upload_dirs: list[str], suffixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefix = prefix
        self.roots = [os.path.realpath(d) for d in upload_dirs]
        self.suffixes = tuple(s.lower() for s in suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        ctype = _header(scope, b"content-type") or ""
        if ctype.split(";")[0].strip().lower() == "multipart/form-data":
            await self._upload(scope, receive, send, ctype)
            return
        if ctype.split(";")[0].strip().lower() != "application/json":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None  # not JSON: the console answers that itself
        if any(not self._uploaded(path) for path in _file_paths(data)):
            log.warning("refused a console call naming a file that was not uploaded")
            await send_json(send, 400, "Only files uploaded through the console are accepted.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, ctype: str) -> None:
        """Read the parts' headers as the body arrives; refuse a file of another type at once."""
        from python_multipart.multipart import MultipartParser, parse_options_header

        boundary = parse_options_header(ctype)[1].get(b"boundary")
        if not boundary:
            await self.app(scope, receive, send)
            return
        names: list[str] = []
        header: dict[str, bytes] = {"field": b"", "value": b""}

        def on_header_field(data: bytes, start: int, end: int) -> None:
            header["field"] += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            header["value"] += data[start:end]

        def on_header_end() -> None:
            if header["field"].lower() == b"content-disposition":
                filename = parse_options_header(header["value"])[1].get(b"filename")
                if filename is not None:
                    names.append(filename.decode("utf-8", "replace"))
            header["field"], header["value"] = b"", b""

        parser = MultipartParser(
            boundary,
            {"on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end},  # type: ignore[typeddict-item]
        )
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            try:
                parser.write(message.get("body", b""))
            except Exception:
                break  # malformed: Gradio answers it
            if any(not name.lower().endswith(self.suffixes) for name in names):
                await send_json(send, 415, f"Only these file types are accepted: {', '.join(self.suffixes)}.")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _uploaded(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(os.path.commonpath([real, root]) == root for root in self.roots)


def _file_paths(data: Any) -> list[str]:
    """Every ``path`` of a file object anywhere in a JSON value."""
    found: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("path"), str):
                found.append(item["path"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
