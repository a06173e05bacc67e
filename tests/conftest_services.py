"""Real back-end servers on loopback for the distributed tests, loaded with ``pytest_plugins``.

* ``postgres``      - a PostgreSQL cluster of its own: ``initdb`` into a temporary directory,
  ``pg_ctl start`` on a free port (Debian's ``postgresql`` package, installed by ``make
  postgres``; nothing is downloaded). Yields a :class:`Postgres` that makes fresh databases.
* ``chroma_server`` - ``chroma run`` (the CLI the ``chromadb`` package ships) on a free port,
  storing into a temporary directory. Yields ``(host, port)``.

PostgreSQL refuses to run as root, so when the tests run as root (as in CI containers) the
cluster is created and started as the ``postgres`` system user the Debian package adds.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest_web import free_port

PG_USER = "care"


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        pytest.fail(f"PostgreSQL's {name} was not found: run `make postgres` (Debian package postgresql).")
    return found


def _as_cluster_owner(command: list[str]) -> list[str]:
    """Run as the ``postgres`` system user when we are root (postgres will not run as root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class Postgres:
    host: str
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host={self.host} port={self.port} user={PG_USER} dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    # Not under pytest's tmp_path: its parents are private to the user running the tests,
    # and the cluster may belong to the postgres user.
    root = Path(tempfile.mkdtemp(prefix="care-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_cluster_owner(
            [_pg_bin("initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync", "--no-locale"]
        ),
        check=True,
        capture_output=True,
    )
    # Loopback only; fsync off because the cluster is thrown away after the session.
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c full_page_writes=off"
    start = subprocess.run(
        _as_cluster_owner([_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        capture_output=True,
        text=True,
    )
    if start.returncode != 0:
        pytest.fail(f"PostgreSQL did not start: {start.stderr}\n{log.read_text() if log.exists() else ''}")
    try:
        yield Postgres("127.0.0.1", port)
    finally:
        subprocess.run(
            _as_cluster_owner([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[tuple[str, int]]:
    root = Path(tempfile.mkdtemp(prefix="care-chroma-"))
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(root / "store"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {(root / 'server.log').read_text(errors='replace')}")
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
