"""Benchmarks: ``python -m assistant bench``.

Reports, in one run: index build time from scratch (model load included) and
with nothing changed; warm retrieval and warm ``ask`` latency (p50/p95); the
time to the first server-sent event of ``/api/chat/stream`` against the real
service on loopback; and a load run: 50 clients x 20 questions to ``/api/chat``
on loopback, with the service's own limits in force, counting errors. Each
client asks from its own loopback address (127.0.0.x), so the per-client rate
limit sees 50 clients, as it would 50 people. Shared machines are noisy, so each latency is also
given as a ratio to a baseline measured in the same run (embedding one query),
which is what to compare across runs.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from assistant.config import Settings

QUESTIONS = [
    "Hvad gør kommunen for borgere med demens og deres pårørende?",
    "vilket stöd får anhöriga?",
    "Hva skjer med dagsenteret for eldre?",
    "What help is there for my father with dementia?",
    "Blir det fler platser på äldreboende?",
    "Hvordan vil Slagelse bruge velfærdsteknologi?",
]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2)}


def _time_ms(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def run_bench(settings: Settings, repeat: int = 30, load_only: bool = False) -> dict[str, Any]:
    """Run every benchmark (or only the load run) and return the figures."""
    from assistant.answer import Assistant
    from assistant.index import build_index

    results: dict[str, Any] = {}
    if load_only:
        assistant = Assistant(settings)
        assistant.warm_up()
        results["load_50_clients_x_20"] = load_run(settings, assistant)
        return results
    with tempfile.TemporaryDirectory() as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp)})
        results["index_build_from_scratch_s"] = round(_time_ms(lambda: build_index(scratch)) / 1000, 2)
        results["index_rebuild_nothing_changed_s"] = round(_time_ms(lambda: build_index(scratch)) / 1000, 2)
        shutil.rmtree(tmp, ignore_errors=True)

    build_index(settings)
    assistant = Assistant(settings)
    retriever = assistant.retriever
    for question in QUESTIONS:  # warm-up: models, caches
        assistant.answer(question)

    # Baseline: one query embedding, the unit of work every search does.
    baseline = [
        _time_ms(lambda q=q: retriever.embedder.embed_query(q)) for q in QUESTIONS * max(1, repeat // len(QUESTIONS))
    ]
    retrieval = [_time_ms(lambda q=q: retriever.search(q)) for q in QUESTIONS * max(1, repeat // len(QUESTIONS))]
    ask = [_time_ms(lambda q=q: assistant.answer(q)) for q in QUESTIONS * max(1, repeat // len(QUESTIONS))]
    base_p50 = max(statistics.median(baseline), 1e-6)
    results["baseline_query_embedding_ms"] = _percentiles(baseline)
    results["retrieval_warm_ms"] = _percentiles(retrieval)
    results["ask_warm_ms"] = _percentiles(ask)
    results["ask_p50_over_baseline"] = round(statistics.median(ask) / base_p50, 1)
    results["retrieval_p50_over_baseline"] = round(statistics.median(retrieval) / base_p50, 1)
    results["first_sse_event_ms"] = _first_event_latency(settings, assistant, repeat=min(repeat, 10))
    results["load_50_clients_x_20"] = load_run(settings, assistant)
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _first_event_latency(settings: Settings, assistant: Any, repeat: int) -> dict[str, float]:
    """Time from sending POST /api/chat/stream to receiving the first SSE event, on loopback."""
    import httpx
    import uvicorn

    from assistant.serve import create_app

    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings.model_copy(update={"data_dir": Path(tmp)})
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(cfg, assistant=assistant), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            samples = []
            with httpx.Client(timeout=30) as client:
                for question in (QUESTIONS * repeat)[:repeat]:
                    start = time.perf_counter()
                    with client.stream("POST", url + "/api/chat/stream", json={"message": question}) as response:
                        for line in response.iter_lines():
                            if line.startswith("event:") or line.startswith("data:"):
                                samples.append((time.perf_counter() - start) * 1000)
                                break
            return _percentiles(samples)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def load_run(settings: Settings, assistant: Any, clients: int = 50, requests: int = 20) -> dict[str, Any]:
    """``clients`` concurrent clients, each asking ``requests`` questions in turn, against the
    service under its production uvicorn configuration on loopback; every non-200 is an error."""
    import asyncio

    import httpx
    import uvicorn

    from assistant.guard import uvicorn_config
    from assistant.serve import create_app

    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings.model_copy(update={"data_dir": Path(tmp)})
        port = _free_port()
        app = create_app(cfg, assistant=assistant)
        server = uvicorn.Server(uvicorn_config(app, cfg, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url)
            statuses: dict[str, int] = {}
            latencies: list[float] = []

            async def client(number: int) -> None:
                # 127.0.0.10, .11, ...: one address per client, as the rate limit counts them.
                transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + number}")
                async with httpx.AsyncClient(base_url=url, transport=transport, timeout=120) as http:
                    for i in range(requests):
                        question = QUESTIONS[(number + i) % len(QUESTIONS)]
                        start = time.perf_counter()
                        try:
                            response = await http.post("/api/chat", json={"message": question})
                            key = str(response.status_code)
                        except httpx.HTTPError as exc:
                            key = type(exc).__name__
                        latencies.append((time.perf_counter() - start) * 1000)
                        statuses[key] = statuses.get(key, 0) + 1

            async def everyone() -> None:
                await asyncio.gather(*(client(n) for n in range(clients)))

            started = time.perf_counter()
            asyncio.run(everyone())
            seconds = time.perf_counter() - started
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    total = clients * requests
    return {
        "requests": total,
        "errors": total - statuses.get("200", 0),
        "statuses": statuses,
        "seconds": round(seconds, 1),
        "requests_per_s": round(total / seconds, 1),
        "latency_ms": _percentiles(latencies),
    }


def _wait_until_up(url: str) -> None:
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the service did not become ready")
