"""Benchmarks: ``python -m assistant bench``.

Reports, in one run: index build time from scratch (model load and a cold
vector cache included: documents, statements and the intent model) and with
nothing changed; warm retrieval and warm ``ask`` latency (p50/p95); the memory
of the process holding the assistant; and the time to the first server-sent
event of ``/api/chat/stream`` against the real service on loopback. Shared
machines are noisy, so each latency is also given as a ratio to a baseline
measured in the same run (embedding one question), which is what to compare
across runs.
"""

from __future__ import annotations

import resource
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


def rss_mb() -> float:
    """Resident memory of this process now, in MB (from /proc; the peak where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_bench(settings: Settings, repeat: int = 30) -> dict[str, Any]:
    """Run every benchmark and return the figures."""
    from assistant.answer import Assistant
    from assistant.index import build_index

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # A fresh data folder and a fresh vector cache: nothing is reused.
        scratch = settings.model_copy(update={"data_dir": Path(tmp), "vector_cache": Path(tmp) / "vectors.sqlite"})
        report: dict[str, Any] = {}
        results["index_build_from_scratch_s"] = round(
            _time_ms(lambda: report.update(build_index(scratch).as_dict())) / 1000, 2
        )
        results["index_build_from_scratch_detail"] = {
            "documents": len(report.get("indexed", [])),
            "statements_embedded": report.get("statements_embedded"),
            "intent_examples": report.get("intents_trained"),
        }
        results["index_rebuild_nothing_changed_s"] = round(_time_ms(lambda: build_index(scratch)) / 1000, 2)

    build_index(settings)
    memory_before = rss_mb()
    assistant = Assistant(settings)
    for question in QUESTIONS:  # warm-up: models, caches
        assistant.answer(question)
    results["memory_rss_mb"] = {"before_loading": memory_before, "assistant_loaded": rss_mb()}

    embedder = assistant.retriever.embedder
    rounds = QUESTIONS * max(1, repeat // len(QUESTIONS))
    # Baseline: one query embedding, the unit of work every answer does once.
    baseline = [_time_ms(lambda q=q: embedder.query_vector(q)) for q in rounds]
    retrieval = [_time_ms(lambda q=q: assistant.retrieve(assistant.analyse(q))) for q in rounds]
    ask = [_time_ms(lambda q=q: assistant.answer(q)) for q in rounds]
    base_p50 = max(statistics.median(baseline), 1e-6)
    results["baseline_query_embedding_ms"] = _percentiles(baseline)
    results["analyse_and_retrieve_warm_ms"] = _percentiles(retrieval)
    results["ask_warm_ms"] = _percentiles(ask)
    results["ask_p50_over_baseline"] = round(statistics.median(ask) / base_p50, 2)
    results["retrieval_p50_over_baseline"] = round(statistics.median(retrieval) / base_p50, 2)
    results["first_sse_event_ms"] = _first_event_latency(settings, assistant, repeat=min(repeat, 10))
    results["memory_rss_mb"]["after_serving"] = rss_mb()
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
