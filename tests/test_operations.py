"""Operations (issue 10): one writer for the index, a running service that follows it, honest health.

* the service answers every question while ``python -m assistant index`` rebuilds the index in
  another process, and answers from the new index without a restart;
* a deleted vector store or an edited chunk file makes the service not ready, saying which,
  and re-indexing repairs it;
* ``python -m assistant serve`` opens its port at once, says 503 (with Retry-After) until the
  model and index are loaded, and then answers within seconds.

Real everything: a copy of the knowledge base, Chroma, the embedding model, uvicorn on
loopback, and the CLI in its own process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from filelock import Timeout

from assistant.answer import Assistant
from assistant.config import REPO_ROOT, Settings
from assistant.index import build_index, read_state
from assistant.knowledge_base import index_lock
from assistant.retrieve import IndexIntegrityError, Retriever
from assistant.serve import create_app
from tests.conftest import GENEROUS_RATES, VECTOR_CACHE
from tests.conftest_web import LiveServer, free_port, serve_in_thread

pytest_plugins = ["tests.conftest_web"]

FJORDBY = "Fjordby Kommune (fiktiv)"
PLAN = """# Ældreplan for Fjordby Kommune (fiktiv)

## Aktiviteter

Fjordby Kommune holder demenscafé hver tirsdag i Fjordby Aktivitetscenter.
"""
NEW_SENTENCE = "Fjordby Kommune indfører en demensbus, der kører borgere med demens til aktivitetscentret hver torsdag."
QUESTIONS = [
    "Hvilken støtte kan pårørende få?",
    "Hvad gør kommunen for borgere med demens?",
    "vilket stöd får anhöriga?",
    "Hva skjer med dagsenteret for eldre?",
]


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CARE_KNOWLEDGE_DIR": str(settings.knowledge_dir),
        "CARE_DATA_DIR": str(settings.data_dir),
        "CARE_VECTOR_CACHE": str(VECTOR_CACHE),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def _cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        env=_env(settings),
        cwd=REPO_ROOT,
        timeout=timeout,
    )


@pytest.fixture
def kb(tmp_path: Path, embedder: Any) -> Settings:
    """A copy of the real knowledge base plus a fictional Fjordby plan, indexed, in a temp dir."""
    shutil.copytree(REPO_ROOT / "knowledge", tmp_path / "knowledge")
    settings = Settings(
        knowledge_dir=tmp_path / "knowledge", data_dir=tmp_path / "data", vector_cache=VECTOR_CACHE, **GENEROUS_RATES
    )
    from assistant.contract import DocumentMeta
    from assistant.knowledge_base import add_document

    add_document(
        settings,
        PLAN.encode(),
        DocumentMeta(id="fjordby-plan", file="fjordby-plan.md", title="Ældreplan", municipality=FJORDBY,
                     country="DK", language="da", period="2031-2034"),
    )  # fmt: skip
    report = build_index(settings, embedder=embedder)
    assert not report.errors, report.errors
    return settings


@pytest.fixture
def service(kb: Settings, embedder: Any) -> Iterator[LiveServer]:
    assistant = Assistant(kb, retriever=Retriever(kb, embedder=embedder))
    server = serve_in_thread(create_app(kb, assistant), kb)
    yield server
    server.stop()


def _ready(server: LiveServer) -> httpx.Response:
    return httpx.get(server.url + "/readyz", timeout=10)


def _wait_ready(server: LiveServer, want: int, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = _ready(server)
        if response.status_code == want or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


# --------------------------------------------------------------------------- one writer


def test_the_service_answers_throughout_a_reindex_in_another_process(kb: Settings, service: LiveServer) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def ask_in_a_loop() -> None:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            n = 0
            while not stop.is_set():
                statuses.append(client.post("/api/chat", json={"message": QUESTIONS[n % len(QUESTIONS)]}).status_code)
                n += 1

    asker = threading.Thread(target=ask_in_a_loop)
    asker.start()
    try:
        time.sleep(1)
        plan = kb.documents_dir / "fjordby-plan.md"
        plan.write_text(PLAN + "\n" + NEW_SENTENCE + "\n", encoding="utf-8")
        done = _cli(kb, "index")
        assert done.returncode == 0, done.stderr
        assert "indexed 1 document" in done.stdout
        time.sleep(2)  # the service keeps answering after the swap
    finally:
        stop.set()
        asker.join(timeout=120)
    assert len(statuses) >= 10
    assert set(statuses) == {200}, statuses
    assert _ready(service).status_code == 200
    # The new text is answered from, without a restart.
    answer = httpx.post(
        service.url + "/api/chat",
        json={"message": "Kører der en demensbus i Fjordby?", "municipality": FJORDBY},
        timeout=60,
    ).json()
    assert "demensbus" in answer["answer"], answer


def test_cli_add_and_remove_go_through_the_knowledge_base(kb: Settings, service: LiveServer, tmp_path: Path) -> None:
    extra = tmp_path / "fjordby-bus.md"
    extra.write_text("# Demensbus i Fjordby\n\n" + NEW_SENTENCE + "\n", encoding="utf-8")
    meta = ["--title", "Demensbus", "--language", "da", "--country", "DK", "--municipality", FJORDBY]
    added = _cli(kb, "add", str(extra), *meta)
    assert added.returncode == 0, added.stderr
    assert "fjordby-bus" in read_state(kb)["documents"]
    question = {"message": "Kører der en demensbus i Fjordby?", "municipality": FJORDBY}
    answer = httpx.post(service.url + "/api/chat", json=question, timeout=60).json()
    assert any(c["document"] == "fjordby-bus" for c in answer["citations"]), answer

    not_a_pdf = tmp_path / "plan.pdf"
    not_a_pdf.write_bytes(b"<html>not a pdf</html>")
    refused = _cli(kb, "add", str(not_a_pdf), *meta)
    assert refused.returncode == 2 and "not a PDF" in refused.stderr and "Traceback" not in refused.stderr

    removed = _cli(kb, "remove", "fjordby-bus")  # out of the answers at once, final at the next index
    assert removed.returncode == 0, removed.stderr
    answer = httpx.post(service.url + "/api/chat", json=question, timeout=60).json()
    assert all(c["document"] != "fjordby-bus" for c in answer["citations"])
    assert _cli(kb, "index").returncode == 0
    assert "fjordby-bus" not in read_state(kb)["documents"]
    assert _cli(kb, "remove", "fjordby-bus").returncode == 2


def test_index_builds_wait_for_each_other_across_processes(kb: Settings) -> None:
    (kb.documents_dir / "fjordby-plan.md").write_text(PLAN + "\n" + NEW_SENTENCE + "\n", encoding="utf-8")
    before = read_state(kb)
    with index_lock(kb):
        build = subprocess.Popen(
            [sys.executable, "-m", "assistant", "index"], env=_env(kb), cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(8)  # long enough to load the model and embed one document, were it not waiting
        assert build.poll() is None and read_state(kb) == before
    _out, err = build.communicate(timeout=300)
    assert build.returncode == 0, err
    assert read_state(kb) != before
    holder = _hold_in_other_process(kb)  # and the lock is one file for every process
    try:
        with pytest.raises(Timeout):
            index_lock(kb).acquire(timeout=0.5)
    finally:
        holder.kill()
        holder.wait()


def _hold_in_other_process(settings: Settings) -> subprocess.Popen[str]:
    """Another process holding the index lock (returned once it holds it)."""
    code = (
        "import time; from assistant.config import Settings; from assistant.knowledge_base import index_lock\n"
        "with index_lock(Settings()):\n    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], env=_env(settings), cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


# --------------------------------------------------------------------------- integrity


def test_an_edited_chunk_file_makes_the_service_not_ready(kb: Settings, service: LiveServer) -> None:
    assert _ready(service).status_code == 200
    entry = read_state(kb)["documents"]["fjordby-plan"]
    chunk_file = kb.index_dir / "chunks" / f"{entry['key']}.jsonl"
    chunk_file.write_text(chunk_file.read_text(encoding="utf-8").replace("demenscafé", "kasino"), encoding="utf-8")

    ready = _wait_ready(service, 503)
    assert ready.status_code == 503 and ready.headers["retry-after"]
    body = ready.json()
    assert body["status"] == "error"
    assert "fjordby-plan" in body["detail"] and "changed" in body["detail"] and "chunks" in body["detail"]
    health = httpx.get(service.url + "/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["assistant"] == "error"
    question = {"message": "Hvad sker der i Fjordby om tirsdagen?", "municipality": FJORDBY}
    chat = httpx.post(service.url + "/api/chat", json=question, timeout=60)
    assert chat.status_code == 503 and "kasino" not in chat.text

    report = build_index(kb, embedder=None)  # re-indexing rebuilds the altered document
    assert report.indexed == ["fjordby-plan"] and any("changed" in w for w in report.warnings)
    assert _wait_ready(service, 200).status_code == 200
    chat = httpx.post(service.url + "/api/chat", json=question, timeout=60)
    assert chat.status_code == 200 and "kasino" not in chat.text


def test_a_deleted_vector_store_makes_the_service_not_ready(kb: Settings, service: LiveServer) -> None:
    assert _ready(service).status_code == 200
    shutil.rmtree(kb.index_dir / "chroma")

    ready = _wait_ready(service, 503)
    assert ready.status_code == 503
    assert "vector store is missing" in ready.json()["detail"] and "data/index/chroma" in ready.json()["detail"]
    assert httpx.post(service.url + "/api/chat", json={"message": QUESTIONS[0]}, timeout=60).status_code == 503

    done = _cli(kb, "index")  # the CLI in another process puts the store back
    assert done.returncode == 0, done.stderr
    assert _wait_ready(service, 200).status_code == 200
    assert httpx.post(service.url + "/api/chat", json={"message": QUESTIONS[0]}, timeout=60).status_code == 200


def test_loading_a_damaged_index_fails_loudly(kb: Settings, embedder: Any) -> None:
    shutil.rmtree(kb.index_dir / "chroma")
    with pytest.raises(IndexIntegrityError, match="vector store is missing"):
        Retriever(kb, embedder=embedder)
    assert not (kb.index_dir / "chroma").exists()  # looking did not create an empty store


# --------------------------------------------------------------------------- start-up


def test_the_service_says_503_until_ready_and_then_answers(built_index: Settings) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**_env(built_index), "CARE_PORT": str(port), **{f"CARE_{k.upper()}": v for k, v in GENEROUS_RATES.items()}}
    env["CARE_WORKERS"] = "1"  # one process's start-up (several workers: tests/test_workers.py)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    early: list[tuple[str, int, float, str | None]] = []
    first_response = ready_at = answered_at = None
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.monotonic() - started < 120:
                try:
                    asked = time.monotonic()
                    chat = client.post("/api/chat", json={"message": QUESTIONS[0]})
                    took = time.monotonic() - asked
                    health = client.get("/healthz")
                    ready = client.get("/readyz")
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                first_response = first_response or time.monotonic() - started
                if chat.status_code == 200:
                    answered_at = time.monotonic() - started
                    break
                early.append(("chat", chat.status_code, took, chat.headers.get("retry-after")))
                early.append(("healthz", health.status_code, 0.0, health.headers.get("retry-after")))
                early.append(("readyz", ready.status_code, 0.0, ready.headers.get("retry-after")))
                if ready.status_code == 200:
                    ready_at = ready_at or time.monotonic() - started
                time.sleep(0.1)
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").json() == {"status": "ready", "detail": None}
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"\nstart-up: first HTTP response {first_response:.1f} s, first answer {answered_at:.1f} s")
    assert answered_at is not None, early[-6:]
    assert early, "the port opens before the model is loaded, so something is asked while it loads"
    for name, status, took, retry_after in early:
        if name != "readyz" or status != 200:
            assert status == 503, (name, status)
            assert retry_after and int(retry_after) > 0, name
        assert took < 2, f"a {name} request during start-up waited {took:.1f} s"
    assert answered_at < 60
