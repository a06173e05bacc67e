"""Hostile input is bounded (issue 10): chunked and header floods, slow clients, connection
and rate limits, one feedback per answer. Real uvicorn on loopback with the service's own
configuration (assistant.guard.uvicorn_config), the real assistant, raw sockets where a
well-behaved HTTP client would not misbehave enough.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.answer import Assistant
from assistant.config import Settings
from assistant.guard import DropQueryStrings
from assistant.serve import create_app
from tests.conftest import GENEROUS_RATES, VECTOR_CACHE
from tests.conftest_web import LiveServer, serve_in_thread

pytest_plugins = ["tests.conftest_web"]

QUESTION = "Hvilken støtte kan pårørende få?"


@pytest.fixture
def serve(tmp_path: Path, web_assistant: Assistant) -> Iterator[Callable[..., LiveServer]]:
    """Start the real app (real assistant) with some settings changed, on its own database."""
    started: list[LiveServer] = []

    def _start(**changes: Any) -> LiveServer:
        settings = Settings(data_dir=tmp_path / "data", vector_cache=VECTOR_CACHE, **{**GENEROUS_RATES, **changes})
        server = serve_in_thread(create_app(settings, web_assistant), settings)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def _connect(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def _flood(sock: socket.socket, head: bytes, piece: bytes, total: int) -> tuple[bytes, int]:
    """Send ``head`` then ``piece`` repeatedly up to ``total`` bytes, stopping as soon as the server
    answers or closes; returns (what the server said, bytes of ``piece`` sent)."""
    sock.sendall(head)
    sent = 0
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return _read_all(sock), sent


def _read_all(sock: socket.socket, timeout_s: float = 10) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError, OSError):
        pass
    return data


def _status(raw: bytes) -> int | None:
    first = raw.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


# --------------------------------------------------------------------------- floods


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    limit = server.settings.max_body_bytes
    head = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"  # 64 KiB chunks, no Content-Length anywhere
    with _connect(server) as sock:
        raw, sent = _flood(sock, head, piece, total=200 * 1024 * 1024)
    assert _status(raw) == 413, raw[:200]
    assert b"too large" in raw.lower()
    # The server stopped reading soon after the limit; the 200 MB were never taken in.
    assert sent < limit + 16 * 1024 * 1024, sent


def test_a_chunked_body_within_the_limit_is_answered(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    body = ('{"message": "' + QUESTION + '"}').encode()
    chunked = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = (
        b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head + chunked)
        raw = _read_all(sock, timeout_s=60)
    assert _status(raw) == 200, raw[:300]


def test_a_huge_header_is_refused_before_it_is_read(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    head = b"GET /api/municipalities HTTP/1.1\r\nHost: x\r\nX-Flood: "
    with _connect(server) as sock:
        raw, sent = _flood(sock, head, b"a" * 65536, total=32 * 1024 * 1024)
    assert _status(raw) == 400, raw[:200]
    assert sent < 4 * 1024 * 1024, sent  # refused near the 16 KiB limit, not after 32 MB
    # Headers within the limit are fine.
    ok = httpx.get(server.url + "/api/municipalities", headers={"X-Fine": "a" * 4000}, timeout=10)
    assert ok.status_code == 200


def test_a_content_length_over_the_limit_is_refused_unread(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    response = httpx.post(
        server.url + "/api/chat",
        content=b'{"message": "' + b"x" * (server.settings.max_body_bytes + 10) + b'"}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413 and response.json()["detail"]


# --------------------------------------------------------------------------- slow clients


def test_half_sent_requests_are_closed(serve: Callable[..., LiveServer]) -> None:
    server = serve(header_timeout_s=1.0)
    sockets = [_connect(server) for _ in range(30)]
    try:
        for sock in sockets:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        # Trickling a header byte now and then does not keep a connection open.
        for _ in range(4):
            time.sleep(0.4)
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")
        closed = 0
        for sock in sockets:
            sock.settimeout(max(0.1, 5 - (time.monotonic() - started)))
            try:
                closed += sock.recv(1024) == b""
            except (ConnectionResetError, OSError):
                closed += 1
        assert closed == len(sockets)
        assert time.monotonic() - started < 6
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(server.url + "/api/municipalities", timeout=10).status_code == 200


def test_a_body_that_does_not_arrive_in_time_gets_408(serve: Callable[..., LiveServer]) -> None:
    server = serve(body_timeout_s=1.0)
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"message": "'
        )
        started = time.monotonic()
        sock.settimeout(10)
        raw = sock.recv(65536)
        answered_after = time.monotonic() - started
        raw += _read_all(sock, timeout_s=10)  # and the connection is closed
    assert _status(raw) == 408, raw[:200]
    assert answered_after < 3, answered_after


def test_connections_beyond_the_limit_wait_their_turn(serve: Callable[..., LiveServer]) -> None:
    server = serve(max_connections=5, header_timeout_s=1.5)
    hogs = [_connect(server) for _ in range(5)]
    try:
        for sock in hogs:
            sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.2)
        busy = httpx.get(server.url + "/api/municipalities", timeout=10)
        assert busy.status_code == 503
        time.sleep(2.5)  # the half-sent requests are closed at their deadline
        assert httpx.get(server.url + "/api/municipalities", timeout=10).status_code == 200
    finally:
        for sock in hogs:
            sock.close()


# --------------------------------------------------------------------------- rates


def _client(server: LiveServer, address: str) -> httpx.Client:
    """A client from its own loopback address, so the service sees another client."""
    return httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address=address), timeout=60)


def test_chat_and_feedback_are_limited_per_client(serve: Callable[..., LiveServer]) -> None:
    server = serve(rate_limit_chat="4/minute", rate_limit_feedback="2/minute")
    with _client(server, "127.0.0.2") as one, _client(server, "127.0.0.3") as other:
        answers = [one.post("/api/chat", json={"message": QUESTION}) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert one.post("/api/chat/stream", json={"message": QUESTION}).status_code == 200
        refused = one.post("/api/chat", json={"message": QUESTION})
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 60 and "wait" in refused.json()["detail"]
        assert other.post("/api/chat", json={"message": QUESTION}).status_code == 200  # another client

        ids = [r.json()["id"] for r in answers]
        assert one.post("/api/feedback", json={"answer_id": ids[0], "helpful": True}).status_code == 201
        assert one.post("/api/feedback", json={"answer_id": ids[1], "helpful": False}).status_code == 201
        assert one.post("/api/feedback", json={"answer_id": ids[2], "helpful": True}).status_code == 429


def test_one_feedback_per_answer(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    answer = httpx.post(server.url + "/api/chat", json={"message": QUESTION}, timeout=60).json()
    first = httpx.post(server.url + "/api/feedback", json={"answer_id": answer["id"], "helpful": True}, timeout=10)
    assert first.status_code == 201
    again = httpx.post(
        server.url + "/api/feedback", json={"answer_id": answer["id"], "helpful": False, "comment": "x"}, timeout=10
    )
    assert again.status_code == 409 and again.json()["detail"]
    rows = [r for r in server.app.state.store.feedback() if r["answer_id"] == answer["id"]]
    assert len(rows) == 1 and rows[0]["helpful"] is True


def test_staff_login_is_limited_per_client(tmp_path: Path, web_assistant: Assistant) -> None:
    from pydantic import SecretStr

    settings = Settings(
        data_dir=tmp_path / "data",
        vector_cache=VECTOR_CACHE,
        staff_user="staff",
        staff_password=SecretStr("not-the-default-4711"),
        rate_limit_login="3/minute",
    )
    server = serve_in_thread(create_app(settings, web_assistant), settings)
    try:
        with _client(server, "127.0.0.4") as guesser:
            tries = [
                guesser.post("/staff/login/", data={"username": "staff", "password": f"guess{i}"}).status_code
                for i in range(5)
            ]
        assert tries[:3] == [400, 400, 400] and tries[3:] == [429, 429]
        with _client(server, "127.0.0.5") as staff:
            right = staff.post("/staff/login/", data={"username": "staff", "password": "not-the-default-4711"})
            assert right.status_code == 200
    finally:
        server.stop()


def test_the_defaults_limit_every_client() -> None:
    defaults = Settings()
    for value in (defaults.rate_limit_chat, defaults.rate_limit_feedback, defaults.rate_limit_login):
        assert "/minute" in value
    assert defaults.max_body_bytes <= 1024 * 1024 and defaults.max_header_bytes <= 64 * 1024
    assert defaults.header_timeout_s <= 30 and defaults.body_timeout_s <= 60 and defaults.retention_days == 30


# --------------------------------------------------------------------------- logs


def test_access_log_lines_carry_no_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/?question=CPR+070761-4285", "1.1", 200), None,
    )  # fmt: skip
    assert DropQueryStrings().filter(record)
    assert "070761" not in record.getMessage() and '"GET / HTTP/1.1" 200' in record.getMessage()
