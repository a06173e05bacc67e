"""Fixtures for the web tests (API and browser), loaded with ``pytest_plugins``.

* ``web_settings``  - the session settings from tests/conftest.py (``built_index``):
  a temporary data directory (index and SQLite), the real knowledge base.
* ``web_assistant`` - the real ``Assistant`` from tests/conftest.py (``assistant``),
  built once per session.
* ``live_server``   - the real app under uvicorn on a free loopback port, with the service's
  own uvicorn configuration (limits and timeouts included).
* ``start_server``  - start another app (e.g. with a fake assistant) the same way.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from assistant.answer import Assistant
from assistant.config import Settings
from assistant.guard import uvicorn_config
from assistant.serve import create_app
from tests.conftest import GENEROUS_RATES, VECTOR_CACHE


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_in_thread(app: Any, settings: Settings, ready: bool = True) -> LiveServer:
    """Run ``app`` with uvicorn on 127.0.0.1 in a daemon thread; wait until it answers
    (``ready``: until ``/healthz`` says 200; otherwise until it answers at all)."""
    port = free_port()
    config = uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.started:
            try:
                status = httpx.get(f"{url}/healthz", timeout=2).status_code
                if status == 200 or not ready:
                    return LiveServer(url, settings, app, server, thread)
            except httpx.HTTPError:
                pass
        if not thread.is_alive():
            break
        time.sleep(0.05)
    server.should_exit = True
    raise RuntimeError("uvicorn did not start")


@pytest.fixture(scope="session")
def web_settings(built_index: Settings) -> Settings:
    """The session settings (temporary data directory, real knowledge base) with the index built."""
    return built_index


@pytest.fixture(scope="session")
def web_assistant(assistant: Assistant) -> Assistant:
    """The real assistant, built once per session by tests/conftest.py."""
    return assistant


@pytest.fixture(scope="session")
def live_server(web_settings: Settings, web_assistant: Assistant) -> Iterator[LiveServer]:
    server = serve_in_thread(create_app(web_settings, web_assistant), web_settings)
    yield server
    server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[Any], LiveServer]]:
    """Start the app with another assistant (a fake), on its own database."""
    started: list[LiveServer] = []

    def _start(assistant: Any) -> LiveServer:
        settings = Settings(data_dir=tmp_path / "data", vector_cache=VECTOR_CACHE, **GENEROUS_RATES)
        server = serve_in_thread(create_app(settings, assistant), settings)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()
