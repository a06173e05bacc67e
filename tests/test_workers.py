"""Several worker processes: each answers, and a staff cache clear reaches every one of them.

A real ``python -m assistant serve --workers 2`` on loopback over the session's index. The
kernel hands each new connection to either worker; ``X-Worker`` says which one answered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from assistant.cache import AnswerCache
from assistant.config import Settings

QUESTION = "Hvilken støtte kan pårørende få?"
# A cached answer is a dictionary lookup (well under a millisecond); a fresh one embeds the
# question first (tens of milliseconds of CPU), so it can never come in under this.
CACHED_MS = 10.0
MAX_TRIES = 80


def _ask(url: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    response = httpx.post(f"{url}/api/chat", json={"message": QUESTION}, timeout=60)  # a new connection each time
    assert response.status_code == 200, response.text
    return response.headers["x-worker"], response.json()


def test_two_workers_answer_alike_and_a_cache_clear_reaches_both(built_index: Settings) -> None:
    from assistant.bench import ServiceProcess

    rates = {"CARE_RATE_LIMIT_CHAT": "10000/minute"}
    with ServiceProcess(built_index, workers=2, cache=True, env=rates) as service:
        # Until each worker has answered from its own cache.
        cached: dict[str, dict] = {}  # type: ignore[type-arg]
        for _ in range(MAX_TRIES):
            worker, answer = _ask(service.url)
            if answer["latency_ms"] < CACHED_MS:
                cached[worker] = answer
            if len(cached) == 2:
                break
        assert len(cached) == 2, f"not both workers answered from their cache: {sorted(cached)}"
        first, second = cached.values()
        assert first["status"] == "answered" and first["answer"] == second["answer"]
        assert first["citations"] == second["citations"]

        # Staff clear the cache from the command line (another process than either worker).
        env = {**os.environ, "CARE_DATA_DIR": str(service.data_dir)}
        done = subprocess.run(
            [sys.executable, "-m", "assistant", "clear-cache"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert (service.data_dir / "answer-cache.generation").exists()

        # Each worker's next answer is made afresh.
        after: dict[str, dict] = {}  # type: ignore[type-arg]
        for _ in range(MAX_TRIES):
            worker, answer = _ask(service.url)
            after.setdefault(worker, answer)
            if len(after) == 2:
                break
        assert sorted(after) == sorted(cached)
        for worker, answer in after.items():
            assert answer["latency_ms"] >= CACHED_MS, f"worker {worker} answered from its old cache"
            assert answer["answer"] == first["answer"]


def test_a_clear_in_one_process_empties_another_and_drops_answers_started_before(tmp_path: Path) -> None:
    generation_file = tmp_path / "answer-cache.generation"
    mine, theirs = AnswerCache(10, generation_file), AnswerCache(10, generation_file)
    mine.put(("q",), "old")
    theirs.put(("q",), "old")
    started = theirs.generation()  # an answer begins in the other process...
    assert mine.clear() == 1  # ...staff clear the cache here...
    assert theirs.get(("q",)) is None  # ...the other process sees it before using its cache
    theirs.put(("q",), "made before the clear", started)
    assert theirs.get(("q",)) is None  # and does not keep what it made before the clear
    theirs.put(("q",), "new", theirs.generation())
    assert theirs.get(("q",)) == "new"


def test_one_worker_per_core_by_default() -> None:
    assert Settings(workers=0).worker_count == (os.cpu_count() or 1)
    assert Settings(workers=3).worker_count == 3


def test_with_the_staff_console_one_worker_by_default() -> None:
    # The console's sessions live in one process's memory.
    assert Settings(workers=0, staff_allow_without_login=True).worker_count == 1
    assert Settings(workers=2, staff_allow_without_login=True).worker_count == 2
