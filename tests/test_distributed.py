"""The distributed topology, for real: a Chroma server, PostgreSQL, and two service processes.

Both servers run on loopback (``tests/conftest_services.py``); the index is built into the
Chroma server; two ``python -m assistant serve`` processes share the data directory (state
file and chunk files) and nothing else. The API tests of ``tests/test_api.py`` that talk to a
live server run against each worker, and the tests below check what only a shared deployment
can get wrong: a document added beside one worker is answered by the other, feedback given
to one is in PostgreSQL and counts for the other, and both answer the same.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from assistant.config import REPO_ROOT, Settings
from assistant.feedback import FeedbackStore
from tests import test_api as api
from tests.conftest import GENEROUS_RATES, VECTOR_CACHE
from tests.conftest_web import free_port

if TYPE_CHECKING:
    from tests.conftest_services import Postgres

pytest_plugins = ["tests.conftest_services"]

NEW_DOCUMENT = (
    "# Demens i Fjordby\n\n"
    "Fjordby Kommune åbner en demenscafé for pårørende hver tirsdag på Fjordby Bibliotek.\n"
    "Caféen er gratis, og man behøver ikke at tilmelde sig.\n"
    "Demenskoordinatoren svarer på spørgsmål om hjælp i hjemmet.\n"
).encode()
NEW_QUESTION = "Har Fjordby en demenscafé for pårørende?"
FJORDBY = "Fjordby Kommune (fiktiv)"


@dataclass
class Worker:
    """One service process; ``url`` and ``settings`` as the API tests expect of a live server."""

    url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Deployment:
    settings: Settings  # what every worker and the CLI are configured with
    env: dict[str, str]
    workers: list[Worker]
    store: FeedbackStore


def _env(settings: Settings, chroma: tuple[str, int], database_url: str) -> dict[str, str]:
    rates = {f"CARE_{k.upper()}": v for k, v in GENEROUS_RATES.items()}
    return {
        **os.environ,
        **rates,
        "CARE_KNOWLEDGE_DIR": str(settings.knowledge_dir),
        "CARE_DATA_DIR": str(settings.data_dir),
        "CARE_VECTOR_CACHE": str(VECTOR_CACHE),
        "CARE_CHROMA_HOST": chroma[0],
        "CARE_CHROMA_PORT": str(chroma[1]),
        "CARE_DATABASE_URL": database_url,
        "CARE_WORKERS": "1",  # each "worker" here is one process: which one answers is the point
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }


def _start_worker(settings: Settings, env: dict[str, str], log: Path) -> Worker:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        env={**env, "CARE_PORT": str(port)},
        cwd=REPO_ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Worker(f"http://127.0.0.1:{port}", settings, process, log)


def _wait_ready(worker: Worker, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{worker.url}/readyz", timeout=2).status_code == 200:
                return
        if worker.process.poll() is not None:
            break
        time.sleep(0.25)
    pytest.fail(f"worker {worker.url} did not become ready:\n{worker.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, chroma_server: tuple[str, int], postgres: Postgres, embedder: Any
) -> Iterator[Deployment]:
    from assistant.index import build_index

    root = tmp_path_factory.mktemp("distributed")
    # A copy of the knowledge base: the tests add a document to it.
    shutil.copytree(REPO_ROOT / "knowledge", root / "knowledge", ignore=shutil.ignore_patterns(".*.lock"))
    database_url = postgres.create_database()
    settings = Settings(
        knowledge_dir=root / "knowledge",
        data_dir=root / "data",
        vector_cache=VECTOR_CACHE,
        chroma_host=chroma_server[0],
        chroma_port=chroma_server[1],
        database_url=database_url,
        **GENEROUS_RATES,
    )
    report = build_index(settings, embedder=embedder)
    assert not report.errors and report.total_chunks > 0
    env = _env(settings, chroma_server, database_url)
    workers = [_start_worker(settings, env, root / f"worker{n}.log") for n in range(2)]
    store = FeedbackStore(database_url)
    try:
        for worker in workers:
            _wait_ready(worker)
        yield Deployment(settings, env, workers, store)
    finally:
        store.close()
        for worker in workers:
            worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.process.kill()


# ------------------------------------------------------------------ the API tests, on each worker

API_TESTS: list[Callable[..., None]] = [
    api.test_chat_returns_the_answer_contract,
    api.test_chat_with_municipality_and_history,
    api.test_stream_event_order_and_payloads,
    api.test_the_page_language_is_the_answer_language_for_an_ambiguous_question,
    api.test_an_own_case_answer_names_the_office_country,
    api.test_stream_rejects_bad_input_before_streaming,
    api.test_municipalities,
    api.test_feedback_without_comment,
    api.test_feedback_with_a_reason,
    api.test_healthz_and_docs,
    api.test_page_and_static_files,
]


@pytest.mark.parametrize("worker", [0, 1])
@pytest.mark.parametrize("api_test", API_TESTS, ids=lambda test: test.__name__.removeprefix("test_"))
def test_the_api_tests_pass_on_each_worker(api_test: Callable[..., None], worker: int, deployment: Deployment) -> None:
    given = {"live_server": deployment.workers[worker], "store": deployment.store, "reason": "hard_to_understand"}
    api_test(**{name: given[name] for name in inspect.signature(api_test).parameters})


# ------------------------------------------------------------------ what a shared deployment must get right


def _ask(worker: Worker, question: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{worker.url}/api/chat", json={"message": question, **body}, timeout=60)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _seen(answer: dict[str, Any]) -> tuple[Any, ...]:
    """What a citizen sees of an answer (not its id or timing)."""
    return (answer["status"], answer["answer"], [(c["document"], c["text"]) for c in answer["citations"]])


def test_both_workers_answer_the_same(deployment: Deployment) -> None:
    a, b = deployment.workers
    questions = [api.QUESTION, "Hvad er hjemmehjælp i Slagelse?", "Vad kostar hemtjänst i Söderhamn?"]
    for question in questions:
        assert _seen(_ask(a, question)) == _seen(_ask(b, question)), question
    assert any(_ask(a, q)["status"] == "answered" for q in questions), "the index in the Chroma server answers"


def test_feedback_given_to_one_worker_is_in_postgresql_and_counts_for_the_other(deployment: Deployment) -> None:
    a, b = deployment.workers
    answer = _ask(a, api.QUESTION)
    r = httpx.post(
        f"{b.url}/api/feedback",
        json={"answer_id": answer["id"], "helpful": False, "reason": "did_not_answer", "comment": "Ring til mig"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    rows = [row for row in deployment.store.feedback() if row["answer_id"] == answer["id"]]
    assert len(rows) == 1 and rows[0]["reason"] == "did_not_answer" and rows[0]["answer"] == answer["answer"]
    again = httpx.post(f"{a.url}/api/feedback", json={"answer_id": answer["id"], "helpful": True}, timeout=10)
    assert again.status_code == 409, "one feedback per answer holds across workers"
    # Nothing went to the embedded default.
    assert not deployment.settings.database_path.exists()


def test_a_document_added_beside_one_worker_is_answered_by_both(deployment: Deployment, tmp_path: Path) -> None:
    a, b = deployment.workers
    before = _ask(b, NEW_QUESTION)
    assert all(c["document"] != "fjordby-demens" for c in before["citations"])

    source = tmp_path / "fjordby-demens.md"
    source.write_bytes(NEW_DOCUMENT)
    added = subprocess.run(
        [sys.executable, "-m", "assistant", "add", str(source), "--title", "Fjordby demensplan (fiktiv)",
         "--language", "da", "--country", "DK", "--municipality", FJORDBY],
        env=deployment.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr

    for worker in (b, a):  # each notices the new state file by itself (checked at most once a second)
        deadline = time.monotonic() + 30
        while True:
            answer = _ask(worker, NEW_QUESTION)
            if any(c["document"] == "fjordby-demens" for c in answer["citations"]):
                break
            assert time.monotonic() < deadline, f"{worker.url} never answered from the new document: {answer}"
            time.sleep(0.5)
        assert answer["status"] == "answered" and "demenscafé" in answer["answer"]
    assert _seen(_ask(a, NEW_QUESTION)) == _seen(_ask(b, NEW_QUESTION))
    municipalities = httpx.get(f"{a.url}/api/municipalities", timeout=10).json()
    assert FJORDBY in str(municipalities)

    # Staff remove it through the knowledge base (soft, until the next build): neither worker cites it.
    from assistant.knowledge_base import mark_removed

    assert mark_removed(deployment.settings, "fjordby-demens")
    for worker in (a, b):
        deadline = time.monotonic() + 30
        while any(c["document"] == "fjordby-demens" for c in _ask(worker, NEW_QUESTION)["citations"]):
            assert time.monotonic() < deadline, f"{worker.url} still cites the removed document"
            time.sleep(0.5)


def test_readiness_with_the_chroma_server(deployment: Deployment) -> None:
    assert not (deployment.settings.index_dir / "chroma").exists(), "no embedded store beside the server"
    for worker in deployment.workers:
        r = httpx.get(f"{worker.url}/readyz", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ready", r.text


# ------------------------------------------------------------------ the retriever and a Chroma server in trouble


def _fjordby(settings: Settings) -> None:
    from assistant.contract import DocumentMeta
    from assistant.knowledge_base import add_document

    meta = DocumentMeta(id="fjordby-demens", file="fjordby-demens.md", title="Fjordby demensplan (fiktiv)",
                        municipality=FJORDBY, country="DK", language="da")  # fmt: skip
    add_document(settings, NEW_DOCUMENT, meta)


def _indexed_on_server(
    settings: Settings, chroma_server: tuple[str, int] | None, prefix: str, embedder: Any
) -> Settings:
    """The fictional Fjordby document indexed into its own collection of the Chroma server (or embedded)."""
    from assistant.index import build_index

    if chroma_server is not None:
        settings = settings.model_copy(
            update={"chroma_host": chroma_server[0], "chroma_port": chroma_server[1], "collection_prefix": prefix}
        )
    _fjordby(settings)
    build_index(settings, embedder=embedder)
    return settings


def test_a_chroma_server_that_lost_the_collection_is_an_integrity_error(
    fictional_kb: Settings, chroma_server: tuple[str, int], embedder: Any
) -> None:
    from assistant.index import chroma_client, collection_name
    from assistant.retrieve import IndexIntegrityError, Retriever

    settings = _indexed_on_server(fictional_kb, chroma_server, "lost", embedder)
    retriever = Retriever(settings, embedder=embedder)
    assert retriever.search("demenscafé", k=1).passages
    retriever.verify(force=True)  # healthy

    client = chroma_client(settings)
    client.delete_collection(collection_name(settings))  # as a server restarted on an empty volume
    client.close()
    with pytest.raises(IndexIntegrityError, match="holds 0 of the"):
        retriever.verify(force=True)


def test_an_unreachable_chroma_server_is_named_when_the_index_must_be_loaded(
    fictional_kb: Settings, chroma_server: tuple[str, int], embedder: Any
) -> None:
    from assistant.index import build_index
    from assistant.retrieve import Retriever, VectorStoreUnavailableError

    settings = _indexed_on_server(fictional_kb, chroma_server, "gone", embedder)
    loaded = Retriever(settings, embedder=embedder)

    elsewhere = settings.model_copy(update={"chroma_port": free_port()})  # nothing listens there
    with pytest.raises(VectorStoreUnavailableError, match="cannot be reached"):
        Retriever(elsewhere, embedder=embedder)
    # A worker that already holds the index keeps answering while the server is away...
    loaded.settings = elsewhere
    loaded.verify(force=True)
    assert loaded.search("demenscafé", k=1).passages
    # ...but not once a newer index exists that it cannot load: then it says why.
    build_index(settings, embedder=embedder)
    with pytest.raises(VectorStoreUnavailableError, match="cannot be reached"):
        loaded.verify(force=True)
    with pytest.raises(VectorStoreUnavailableError):
        loaded.search("demenscafé", k=1)
    loaded.settings = settings  # the server is back: the new index loads
    loaded.verify(force=True)
    assert loaded.search("demenscafé", k=1).passages


@pytest.mark.parametrize("server", [False, True], ids=["embedded", "server"])
def test_an_index_is_read_from_the_store_a_page_at_a_time(
    server: bool, fictional_kb: Settings, chroma_server: tuple[str, int], embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import retrieve

    settings = _indexed_on_server(fictional_kb, chroma_server if server else None, "paged", embedder)
    whole = retrieve.Retriever(settings, embedder=embedder).snapshot
    assert len(whole.statements) == 3
    for size in (2, 1):  # a full page then a short one; full pages then an empty one
        monkeypatch.setattr(retrieve, "STORE_PAGE", size)
        paged = retrieve.Retriever(settings, embedder=embedder).snapshot
        assert [s.unit.text for s in paged.statements] == [s.unit.text for s in whole.statements]
        assert (paged.vectors == whole.vectors).all()
