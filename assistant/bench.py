"""Benchmarks: ``python -m assistant bench``.

Reports, in one run: index build time from scratch (model load and a cold
vector cache included: documents, statements and the intent model) and with
nothing changed; warm retrieval and warm ``ask`` latency (p50/p95); the memory
of the process holding the assistant; the time to the first server-sent event
of ``/api/chat/stream`` against the real service on loopback; and the load runs
(``--load-only`` for these alone): the real service (``python -m assistant serve``)
with one worker process and with N, each with the answer cache off and on, at 1,
10 and 50 concurrent clients asking every distinct question of ``evals/*.jsonl``
(cache on: each twice), with the service's own limits in force, counting errors.
Every 20 questions come from a new loopback address (127.1.x.y), so the
per-client rate limit sees many citizens, as it would. Shared machines are noisy,
so the service's CPU time per answer (from /proc) and the load average are given
beside the wall-clock figures, and latencies also as a ratio to a baseline
measured in the same run (embedding one question). ``--growth 10,100,1000``
runs the growth simulation instead (:func:`run_growth`). Figures are also
written as JSON (``--out``, default ``test-output/bench.json``).
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

from assistant.config import REPO_ROOT, Settings

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


def run_bench(
    settings: Settings, repeat: int = 30, load_only: bool = False, workers: int | None = None
) -> dict[str, Any]:
    """Run every benchmark (or only the load run) and return the figures."""
    from assistant.answer import Assistant
    from assistant.index import build_index

    results: dict[str, Any] = {}
    if load_only:
        results["load"] = run_load(settings, workers)
        return results
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
            "translations_embedded": report.get("translations_embedded"),
        }
        results["index_rebuild_nothing_changed_s"] = round(_time_ms(lambda: build_index(scratch)) / 1000, 2)

    build_index(settings)
    memory_before = rss_mb()
    # The answer cache off: a warm answer is measured doing all its work (the load runs measure the cache).
    assistant = Assistant(settings.model_copy(update={"answer_cache": False}))
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
    results["load"] = run_load(settings, workers)
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


# -- growth: a synthetic knowledge base of fictional municipalities -------------------


class SimulatedEmbeddings:
    """Deterministic unit vectors from a text's hash, for the growth simulation only.

    Embedding hundreds of thousands of statements with the real model takes hours
    on this machine, so the growth run measures everything else (ingest, Chroma,
    BM25, loading, searching) with these vectors, and reports the real model's
    throughput beside it to extrapolate build time. Questions are embedded with
    the real model, so query latency includes the real cost.
    """

    name = "simulated"

    def __init__(self, real: Any, dim: int = 384) -> None:
        self._real = real
        self.dim = dim

    def vectors(self, texts: Any, role: str = "passage") -> Any:
        import hashlib

        import numpy as np

        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(f"{role}|{text}".encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.vstack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def query_vector(self, text: str) -> Any:
        return self._real.query_vector(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.vectors(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.query_vector(text).tolist()  # type: ignore[no-any-return]


def synthetic_knowledge_base(source: Settings, target: Path, factor: int) -> Settings:
    """``factor`` copies of every document, each under a clearly fictional municipality.

    The texts are the real plans' texts with the municipality named as
    "Fiktivby N"; nothing is written under ``knowledge/``.
    """
    import yaml

    from assistant.knowledge import load_manifest

    documents = target / "knowledge" / "documents"
    documents.mkdir(parents=True, exist_ok=True)
    entries = []
    for copy in range(factor):
        for meta in load_manifest(source):
            text = (source.documents_dir / meta.file).read_text(encoding="utf-8")
            name = f"Fiktivby {copy + 1:04d} (fiktiv)"
            if meta.municipality:
                text = text.replace(meta.municipality.split()[0].rstrip("s"), name)
            file = f"{copy:04d}-{meta.file}"
            (documents / file).write_text(text, encoding="utf-8")
            entry = meta.model_dump()
            entry.update(id=f"{copy:04d}-{meta.id}", file=file, municipality=name, url=None, source="synthetic")
            entries.append(entry)
    (target / "knowledge" / "manifest.yaml").write_text(
        yaml.safe_dump({"documents": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    for name in ("glossary.yaml", "helplines.yaml"):
        (target / "knowledge" / name).write_bytes((source.knowledge_dir / name).read_bytes())
    (target / "knowledge" / "intents").mkdir()
    (target / "knowledge" / "intents" / "decision_table.csv").write_bytes(source.intents_table_path.read_bytes())
    return source.model_copy(update={"knowledge_dir": target / "knowledge", "data_dir": target / "data"})


def run_growth(settings: Settings, factors: list[int], questions: int = 20) -> list[dict[str, Any]]:
    """Index build time, memory per worker and answer latency as the knowledge base grows.

    Each size is loaded in a fresh process (as a worker would), which reports its
    load time, its resident memory and its answer latency.
    """
    import json
    import subprocess
    import sys

    from assistant.embeddings import load_embeddings
    from assistant.index import build_index

    simulated = SimulatedEmbeddings(load_embeddings(settings))
    rows: list[dict[str, Any]] = [{"real_model_passages_per_s": _passage_throughput(settings)}]
    for factor in factors:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = synthetic_knowledge_base(settings, Path(tmp), factor)
            cfg = cfg.model_copy(update={"vector_cache": settings.vector_cache_path, "answer_cache": False})
            started = time.perf_counter()
            report = build_index(cfg, embedder=simulated)  # type: ignore[arg-type]
            build_s = time.perf_counter() - started
            worker = subprocess.run(
                [sys.executable, "-c", _WORKER, cfg.model_dump_json(), str(questions)],
                capture_output=True,
                text=True,
                check=True,
                timeout=3600,
            )
            rows.append(
                {
                    "factor": factor,
                    "documents": len(report.indexed),
                    "chunks": report.total_chunks,
                    "statements": report.statements_embedded,
                    "build_s_without_embedding": round(build_s, 1),
                    "index_on_disk_mb": round(_disk_mb(cfg.index_dir), 1),
                    **json.loads(worker.stdout.strip().splitlines()[-1]),
                }
            )
    return rows


def _passage_throughput(settings: Settings, count: int = 96) -> float:
    """Statements a second the real model embeds as an index build does (every core, in batches),
    to extrapolate the growth run's build times to real embedding."""
    from assistant.embeddings import default_threads, load_embeddings
    from assistant.index import quotable_units
    from assistant.ingest import ingest_document
    from assistant.knowledge import load_manifest

    texts: list[str] = []
    for meta in load_manifest(settings):
        for chunk in ingest_document(settings.documents_dir / meta.file, meta):
            texts += [unit.text for unit in quotable_units(chunk)]
    texts = texts[:count]
    model = load_embeddings(settings, threads=default_threads())
    model.vectors(texts[:8])
    started = time.perf_counter()
    for start in range(0, len(texts), 32):
        model.vectors(texts[start : start + 32])
    return round(len(texts) / (time.perf_counter() - started), 1)


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# One worker: load the index, answer questions, report load time, memory and latency.
_WORKER = """
import json, sys, time
from assistant.config import Settings
from assistant import bench
from assistant.answer import Assistant
from assistant.embeddings import load_embeddings
from assistant.retrieve import Retriever
settings = Settings.model_validate_json(sys.argv[1])
questions = int(sys.argv[2])
before = bench.rss_mb()
started = time.perf_counter()
simulated = bench.SimulatedEmbeddings(load_embeddings(settings))
assistant = Assistant(settings, retriever=Retriever(settings, embedder=simulated))
load_s = time.perf_counter() - started
assistant.answer(bench.QUESTIONS[0])
loaded = bench.rss_mb()
asked = bench.eval_questions()[:questions]
samples = [bench._time_ms(lambda q=q: assistant.answer(q)) for q in asked]
print(json.dumps({"load_s": round(load_s, 1), "worker_rss_mb": loaded, "worker_rss_before_mb": before,
                  "ask_ms": bench._percentiles(samples)}))
"""


# -- load: the real service (N worker processes) on loopback, many distinct questions -------


LOAD_CLIENTS = (1, 10, 50)
REQUESTS_PER_ADDRESS = 20  # under the per-client limit (30 a minute) whatever the pace


def eval_questions(root: Path = REPO_ROOT) -> list[str]:
    """Every distinct question of ``evals/*.jsonl``, in file order."""
    import json

    found: dict[str, None] = {}
    for path in sorted((root / "evals").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                question = str(json.loads(line).get("question") or "").strip()
                if question:
                    found.setdefault(question)
    return list(found)


class _Addresses:
    """Loopback source addresses 127.1.0.1, 127.1.0.2, ...: one per simulated citizen.

    The service limits questions per client address (30 a minute), as it should; a load run
    models many citizens, so every ``REQUESTS_PER_ADDRESS`` questions come from a new address
    (Linux answers the whole of 127.0.0.0/8 on loopback).
    """

    def __init__(self) -> None:
        self.used = 0

    def next(self) -> str:
        self.used += 1
        n = self.used
        return f"127.{1 + n // 62500}.{(n // 250) % 250}.{n % 250 + 1}"


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (from /proc)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


class ServiceProcess:
    """``python -m assistant serve --workers N`` on a free loopback port, over the given index,
    with its own data folder (feedback database, cache generation file); stopped on exit."""

    def __init__(self, settings: Settings, workers: int, cache: bool, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.workers = workers
        self.cache = cache
        self.env = env or {}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: Any = None
        self.data_dir = Path()

    def __enter__(self) -> ServiceProcess:
        import os
        import subprocess
        import sys

        self._tmp = tempfile.TemporaryDirectory()
        self.data_dir = Path(self._tmp.name) / "data"
        self.data_dir.mkdir()
        # The index is read only by the service: the real one, linked in; everything it writes stays here.
        (self.data_dir / "index").symlink_to(self.settings.index_dir.resolve(), target_is_directory=True)
        env = dict(os.environ)
        env.update(
            CARE_DATA_DIR=str(self.data_dir),
            CARE_KNOWLEDGE_DIR=str(self.settings.knowledge_dir),
            CARE_PROMPTS_DIR=str(self.settings.prompts_dir),
            CARE_VECTOR_CACHE=str(self.settings.vector_cache_path),
            CARE_ANSWER_CACHE="true" if self.cache else "false",
            CARE_EMBEDDING_THREADS=str(self.settings.embedding_threads),
        )
        env.update(self.env)
        command = [sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(self.workers)]  # fmt: skip
        log = open(self.data_dir / "service.log", "wb")  # closed in __exit__, after the process
        self._process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._log = log
        _wait_until_up(self.url, workers=self.workers)
        return self

    def cpu_s(self) -> float:
        return _process_cpu_s(self._process.pid)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process now."""
        pid = self._process.pid
        found = []
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        for child in children or [str(pid)]:
            try:
                status = Path(f"/proc/{child}/status").read_text()
                if b"resource_tracker" in Path(f"/proc/{child}/cmdline").read_bytes():
                    continue  # multiprocessing's helper beside the workers, not a worker
            except OSError:
                continue
            found += [
                round(int(line.split()[1]) / 1024, 1) for line in status.splitlines() if line.startswith("VmRSS:")
            ]
        return found

    def clear_cache(self) -> None:
        """What staff do after editing texts: empties every worker's answer cache."""
        from assistant.cache import AnswerCache

        AnswerCache(
            0, self.settings.model_copy(update={"data_dir": self.data_dir}).answer_cache_generation_path
        ).clear()

    def __exit__(self, *_exc: Any) -> None:
        import signal

        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except Exception:
                self._process.kill()
                self._process.wait()
            self._log.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def load_run(url: str, questions: list[str], clients: int, addresses: _Addresses, cpu: Any = None) -> dict[str, Any]:
    """``clients`` concurrent clients take the next question from ``questions`` until none is
    left, each waiting for its answer before asking again; every non-200 is an error.

    ``cpu``: a function giving the service's CPU seconds, for the CPU time per answer (the figure
    that holds on a machine others are using too).
    """
    import asyncio
    import os

    import httpx

    statuses: dict[str, int] = {}
    latencies: list[float] = []
    pending = iter(questions)

    async def client() -> None:
        while True:
            batch = [q for _, q in zip(range(REQUESTS_PER_ADDRESS), pending, strict=False)]
            if not batch:
                return
            transport = httpx.AsyncHTTPTransport(local_address=addresses.next())
            async with httpx.AsyncClient(base_url=url, transport=transport, timeout=120) as http:
                for question in batch:
                    start = time.perf_counter()
                    try:
                        response = await http.post("/api/chat", json={"message": question})
                        key = str(response.status_code)
                    except httpx.HTTPError as exc:
                        key = type(exc).__name__
                    latencies.append((time.perf_counter() - start) * 1000)
                    statuses[key] = statuses.get(key, 0) + 1

    async def everyone() -> None:
        await asyncio.gather(*(client() for _ in range(clients)))

    load_before = os.getloadavg()[0]
    cpu_before = cpu() if cpu else 0.0
    own_before = time.process_time()
    started = time.perf_counter()
    asyncio.run(everyone())
    seconds = time.perf_counter() - started
    total = len(latencies)
    service_cpu_s = (cpu() - cpu_before) if cpu else 0.0
    return {
        "clients": clients,
        "requests": total,
        "errors": total - statuses.get("200", 0),
        "statuses": statuses,
        "seconds": round(seconds, 1),
        "answers_per_s": round(statuses.get("200", 0) / seconds, 1),
        "latency_ms": _percentiles(latencies),
        "service_cpu_ms_per_answer": round(service_cpu_s * 1000 / max(total, 1), 1) if cpu else None,
        "service_cores_busy": round(service_cpu_s / seconds, 2) if cpu else None,
        "load_client_cpu_ms_per_request": round((time.process_time() - own_before) * 1000 / max(total, 1), 1),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }


def load_matrix(
    settings: Settings, workers: int, questions: list[str], single_client_questions: int = 150
) -> dict[str, Any]:
    """Load runs at 1, 10 and 50 clients, with the answer cache off and on, against ``workers``
    worker processes. Cache off: every distinct question once. Cache on: the same questions, then
    all of them again in another order (so half can be answered from the cache), the cache emptied
    through the staff path before each run. One client asks fewer (it measures latency, not capacity).
    """
    import random

    results: dict[str, Any] = {}
    addresses = _Addresses()
    for cache in (False, True):
        with ServiceProcess(settings, workers, cache) as service:
            runs = []
            for clients in LOAD_CLIENTS:
                asked = questions[:single_client_questions] if clients == 1 else list(questions)
                if cache:
                    again = list(asked)
                    random.Random(clients).shuffle(again)
                    asked = asked + again
                    service.clear_cache()
                runs.append(load_run(service.url, asked, clients, addresses, cpu=service.cpu_s))
            results["cache_on" if cache else "cache_off"] = runs
            results[f"worker_rss_mb_after_cache_{'on' if cache else 'off'}"] = service.worker_rss_mb()
    return results


def run_load(settings: Settings, workers: int | None = None) -> dict[str, Any]:
    """The load matrix for one worker process and for ``workers`` (default: the service's own
    default) in the same run, with the machine's load and the embedding's own cost beside them."""
    import os
    import subprocess

    from assistant.embeddings import load_embeddings

    questions = eval_questions()
    count = workers or settings.worker_count
    embedder = load_embeddings(settings)
    for question in questions[:20]:
        embedder.query_vector(question)
    started = time.process_time()
    for question in questions[:200]:
        embedder.query_vector(question)
    embedding_cpu_ms = (time.process_time() - started) * 1000 / min(200, len(questions))
    del embedder
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    results: dict[str, Any] = {
        "machine": {"cpu_count": os.cpu_count(), "uptime_at_start": uptime},
        "distinct_questions": len(questions),
        "question_embedding_cpu_ms": round(embedding_cpu_ms, 1),
        "workers_1": load_matrix(settings, 1, questions),
        f"workers_{count}": load_matrix(settings, count, questions),
    }
    results["machine"]["uptime_at_end"] = subprocess.run(
        ["uptime"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return results


def _wait_until_up(url: str, workers: int = 1, timeout_s: float = 180) -> None:
    """Until ``/readyz`` says 200 from ``workers`` different worker processes (``X-Worker``)."""
    import httpx

    deadline = time.time() + timeout_s
    ready: set[str] = set()
    while time.time() < deadline:
        try:
            response = httpx.get(url + "/readyz", timeout=2)  # a new connection: any worker may take it
            if response.status_code == 200:
                ready.add(response.headers.get("x-worker", ""))
                if len(ready) >= workers:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the service did not become ready ({len(ready)} of {workers} workers)")
