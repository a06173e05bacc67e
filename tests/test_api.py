"""The HTTP API: validation, chat, streaming, municipalities, feedback, health."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.answer import Assistant
from assistant.config import Settings
from assistant.contract import Answer
from assistant.feedback import FeedbackStore
from assistant.knowledge import load_manifest, municipalities
from assistant.serve import create_app, split_pieces

pytest_plugins = ["tests.conftest_web"]

QUESTION = "Hvilken støtte kan pårørende få?"
CPR = "070761-4285"
EMAIL = "karen.jensen@example.dk"


@pytest.fixture(scope="module")
def client(web_settings: Settings, web_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings, web_assistant), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def store(web_settings: Settings) -> FeedbackStore:
    return FeedbackStore(web_settings.database_path)


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    """(event, decoded JSON data) pairs from a text/event-stream body."""
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


# --------------------------------------------------------------------------- validation


def _bad_chat_requests(limit: int) -> list[tuple[str, dict[str, Any]]]:
    js = {"Content-Type": "application/json"}
    return [
        ("empty", {"json": {"message": ""}}),
        ("whitespace", {"json": {"message": " \n\t  "}}),
        ("over-long", {"json": {"message": "a" * (limit + 1)}}),
        ("over-long after strip still long", {"json": {"message": "  " + "b" * (limit + 5) + "  "}}),
        ("number", {"json": {"message": 42}}),
        ("list", {"json": {"message": ["a", "b"]}}),
        ("null message", {"json": {"message": None}}),
        ("missing message", {"json": {"municipality": "Slagelse Kommune"}}),
        ("empty object", {"json": {}}),
        ("array body", {"json": [QUESTION]}),
        ("string body", {"json": QUESTION}),
        ("malformed JSON", {"content": b'{"message": "hej', "headers": js}),
        ("not JSON at all", {"content": b"message=hej", "headers": js}),
        ("empty body", {"content": b"", "headers": js}),
        ("form encoded", {"data": {"message": QUESTION}}),
        ("text/plain", {"content": QUESTION.encode(), "headers": {"Content-Type": "text/plain"}}),
        ("unknown municipality", {"json": {"message": QUESTION, "municipality": "Atlantis Kommune"}}),
        ("blank municipality", {"json": {"message": QUESTION, "municipality": "\u00a0"}}),
        ("municipality wrong type", {"json": {"message": QUESTION, "municipality": 7}}),
        ("history not a list", {"json": {"message": QUESTION, "history": "earlier"}}),
        ("history bad role", {"json": {"message": QUESTION, "history": [{"role": "system", "content": "x"}]}}),
        ("history bad item", {"json": {"message": QUESTION, "history": [1, 2]}}),
        ("history too long", {"json": {"message": QUESTION, "history": [{"role": "user", "content": "x"}] * 50}}),
        ("unknown field", {"json": {"message": QUESTION, "question": QUESTION}}),
        ("huge body", {"content": b'{"message": "' + b"x" * 400_000 + b'"}', "headers": js}),
    ]


def _bad_feedback_requests() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("empty object", {"json": {}}),
        ("missing helpful", {"json": {"answer_id": "abc"}}),
        ("missing answer_id", {"json": {"helpful": True}}),
        ("helpful as string", {"json": {"answer_id": "abc", "helpful": "yes"}}),
        ("helpful as int", {"json": {"answer_id": "abc", "helpful": 1}}),
        ("answer_id as int", {"json": {"answer_id": 5, "helpful": True}}),
        ("answer_id empty", {"json": {"answer_id": "", "helpful": True}}),
        ("answer_id with odd chars", {"json": {"answer_id": "../../etc/passwd", "helpful": True}}),
        ("unknown answer", {"json": {"answer_id": "0" * 32, "helpful": True}}),
        ("comment wrong type", {"json": {"answer_id": "abc", "helpful": True, "comment": ["x"]}}),
        ("comment too long", {"json": {"answer_id": "abc", "helpful": True, "comment": "x" * 5000}}),
        ("unknown reason", {"json": {"answer_id": "abc", "helpful": False, "reason": "too_slow"}}),
        ("reason wrong type", {"json": {"answer_id": "abc", "helpful": False, "reason": 1}}),
        ("malformed JSON", {"content": b'{"answer_id": ', "headers": {"Content-Type": "application/json"}}),
        ("array body", {"json": [1]}),
    ]


def _assert_clean_4xx(response: httpx.Response, case: str) -> None:
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), (case, body)
    assert "Traceback" not in response.text and 'File "' not in response.text, case


def test_bad_chat_requests_get_4xx_with_readable_detail(client: TestClient, web_settings: Settings) -> None:
    for path in ("/api/chat", "/api/chat/stream"):
        for case, kwargs in _bad_chat_requests(web_settings.max_question_chars):
            response = client.post(path, **kwargs)
            _assert_clean_4xx(response, f"{path} {case}")


def test_specific_validation_codes_and_messages(client: TestClient, web_settings: Settings) -> None:
    r = client.post("/api/chat", json={"message": "   "})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = client.post("/api/chat", json={"message": "x" * (web_settings.max_question_chars + 1)})
    assert r.status_code == 422 and "too long" in r.json()["detail"]
    assert str(web_settings.max_question_chars) in r.json()["detail"]
    r = client.post("/api/chat", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = client.post("/api/chat", json={"message": QUESTION, "municipality": "Atlantis Kommune"})
    assert r.status_code == 422 and "municipality" in r.json()["detail"].lower()
    r = client.post("/api/chat", json={"message": 42})
    assert r.status_code == 422 and "'message'" in r.json()["detail"]
    # the input is never echoed back (it may hold personal data)
    r = client.post("/api/chat", json={"message": CPR * 500})
    assert r.status_code == 422 and CPR not in r.text


def test_bad_feedback_requests_get_4xx(client: TestClient) -> None:
    for case, kwargs in _bad_feedback_requests():
        _assert_clean_4xx(client.post("/api/feedback", **kwargs), f"feedback {case}")
    r = client.post("/api/feedback", json={"answer_id": "f" * 32, "helpful": True})
    assert r.status_code == 404


def test_exactly_max_length_is_accepted(client: TestClient, web_settings: Settings) -> None:
    message = ("Hvad er hjemmehjælp? " * 200)[: web_settings.max_question_chars]
    r = client.post("/api/chat", json={"message": message})
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- chat and stream


def test_chat_returns_the_answer_contract(live_server: Any, store: FeedbackStore) -> None:
    r = httpx.post(f"{live_server.url}/api/chat", json={"message": QUESTION}, timeout=60)
    assert r.status_code == 200, r.text
    answer = Answer.model_validate(r.json())
    assert answer.status in {"answered", "not_found", "refused", "crisis"}
    assert answer.language in {"da", "sv", "nb", "en"}
    assert answer.answer.strip()
    for citation in answer.citations:
        assert citation.n >= 1 and citation.text.strip() and citation.title.strip()
    if answer.status == "answered":
        assert answer.citations, "an answered question must cite its sources"
    recorded = {row["id"]: row for row in store.answers()}
    assert answer.id in recorded
    assert recorded[answer.id]["status"] == answer.status
    assert recorded[answer.id]["language"] == answer.language


def test_chat_with_municipality_and_history(live_server: Any, store: FeedbackStore) -> None:
    body = {
        "message": QUESTION,
        "municipality": "slagelse kommune",  # matched case-insensitively
        "history": [
            {"role": "user", "content": "Hvad er hjemmehjælp?"},
            {"role": "assistant", "content": "Hjemmehjælp er praktisk hjælp og personlig pleje."},
        ],
    }
    r = httpx.post(f"{live_server.url}/api/chat", json=body, timeout=60)
    assert r.status_code == 200, r.text
    answer_id = r.json()["id"]
    row = next(row for row in store.answers() if row["id"] == answer_id)
    assert row["municipality"] == "Slagelse Kommune"


def test_stream_event_order_and_payloads(live_server: Any) -> None:
    body = {"message": QUESTION}
    with httpx.stream("POST", f"{live_server.url}/api/chat/stream", json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode("utf-8")
    events = parse_sse(raw)
    names = [name for name, _ in events]
    assert names[0] == "status"
    assert names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"delta"}, names
    assert names.count("delta") >= 2, "the answer is streamed in pieces"

    status = events[0][1]
    assert set(status) == {
        "id", "status", "language", "pii_detected", "question", "intent", "municipality", "office_country",
    }  # fmt: skip
    done = events[-1][1]
    assert done["id"] == status["id"] and done["latency_ms"] >= 0
    text = "".join(data["text"] for name, data in events if name == "delta")

    reference = Answer.model_validate(httpx.post(f"{live_server.url}/api/chat", json=body, timeout=60).json())
    assert status["status"] == reference.status and status["language"] == reference.language
    assert status["office_country"] == reference.office_country and status["intent"] == reference.intent
    assert text == reference.answer
    citations = events[-2][1]
    assert [c["n"] for c in citations] == [c.n for c in reference.citations]
    assert [c["text"] for c in citations] == [c.text for c in reference.citations]
    languages = {d.id: d.language for d in load_manifest(live_server.settings)}
    for c in citations:
        assert c["language"] == languages.get(c["document"])


def test_the_page_language_is_the_answer_language_for_an_ambiguous_question(live_server: Any) -> None:
    def ask(body: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(f"{live_server.url}/api/chat", json=body, timeout=60)
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert ask({"message": "demens?", "language": "sv"})["language"] == "sv"
    assert ask({"message": "demens?", "language": "en"})["language"] == "en"
    # ...a question clearly in another language keeps its own
    assert ask({"message": "Kan min mor få plads på plejehjem?", "language": "en"})["language"] == "da"
    bad = httpx.post(f"{live_server.url}/api/chat", json={"message": "demens?", "language": "de"}, timeout=30)
    assert bad.status_code == 422 and "language" in bad.json()["detail"]


def test_an_own_case_answer_names_the_office_country(live_server: Any) -> None:
    body = {"message": "Kan min mor få plads på plejehjem i Slagelse?", "language": "da"}
    answer = httpx.post(f"{live_server.url}/api/chat", json=body, timeout=60).json()
    assert answer["status"] == "referred" and answer["office_country"] == "DK"
    assert "visitation" in answer["answer"]


def test_stream_rejects_bad_input_before_streaming(live_server: Any) -> None:
    r = httpx.post(f"{live_server.url}/api/chat/stream", json={"message": ""}, timeout=30)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/json")


def test_split_pieces_joins_back() -> None:
    text = "First sentence. Second one! Third?\n- bullet [1]\n- another: here [2]\n\nLast line without end"
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert len(pieces) >= 6
    assert split_pieces("") == []


# --------------------------------------------------------------------------- municipalities, feedback, health


def test_municipalities(live_server: Any) -> None:
    r = httpx.get(f"{live_server.url}/api/municipalities", timeout=10)
    assert r.status_code == 200
    data = r.json()
    assert data == municipalities(load_manifest(live_server.settings))
    names = {m["name"] for m in data}
    assert "Slagelse Kommune" in names
    assert all(m["country"] in {"DK", "SE", "NO"} and m["documents"] for m in data)


def test_feedback_is_stored_redacted(live_server: Any, web_settings: Settings, store: FeedbackStore) -> None:
    question = f"Min mor har CPR {CPR} og mail {EMAIL}. Kan hun få hjemmehjælp?"
    answer = httpx.post(f"{live_server.url}/api/chat", json={"message": question}, timeout=60).json()
    comment = f"Ring til mig, mit CPR-nummer er {CPR}, skriv til {EMAIL}"
    r = httpx.post(
        f"{live_server.url}/api/feedback",
        json={"answer_id": answer["id"], "helpful": False, "comment": comment},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    feedback_id = r.json()["id"]
    rows = [row for row in store.feedback(helpful=False) if row["id"] == feedback_id]
    assert len(rows) == 1
    assert rows[0]["helpful"] is False
    assert rows[0]["answer_id"] == answer["id"]
    assert rows[0]["comment"] and "Ring til mig" in rows[0]["comment"]
    assert rows[0]["answer"] == answer["answer"], "staff see the answer as the citizen saw it"
    assert rows[0]["question"] == answer["question"] and CPR not in rows[0]["question"]
    assert CPR not in rows[0]["comment"] and EMAIL not in rows[0]["comment"]
    assert all(row["id"] != feedback_id for row in store.feedback(helpful=True))
    # nothing personal anywhere in the database files
    files = sorted(web_settings.database_path.parent.glob(web_settings.database_path.name + "*"))
    assert files
    for path in files:
        blob = path.read_bytes()
        for secret in (CPR, CPR.replace("-", ""), EMAIL):
            assert secret.encode() not in blob, f"{secret} found in {path.name}"


def test_feedback_without_comment(live_server: Any, store: FeedbackStore) -> None:
    answer = httpx.post(f"{live_server.url}/api/chat", json={"message": QUESTION}, timeout=60).json()
    r = httpx.post(f"{live_server.url}/api/feedback", json={"answer_id": answer["id"], "helpful": True}, timeout=10)
    assert r.status_code == 201
    row = next(row for row in store.feedback(helpful=True) if row["id"] == r.json()["id"])
    assert row["comment"] is None


@pytest.mark.parametrize("reason", ["did_not_answer", "wrong_municipality", "hard_to_understand", "other"])
def test_feedback_with_a_reason(live_server: Any, store: FeedbackStore, reason: str) -> None:
    answer = httpx.post(f"{live_server.url}/api/chat", json={"message": QUESTION}, timeout=60).json()
    r = httpx.post(
        f"{live_server.url}/api/feedback",
        json={"answer_id": answer["id"], "helpful": False, "reason": reason},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    row = next(row for row in store.feedback(helpful=False) if row["id"] == r.json()["id"])
    assert row["reason"] == reason and row["comment"] is None and row["answer"] == answer["answer"]


def test_privacy_states_the_configured_retention(web_settings: Settings, web_assistant: Assistant) -> None:
    with TestClient(create_app(web_settings, web_assistant)) as c:
        assert c.get("/api/privacy").json()["retention_days"] == 30
    longer = web_settings.model_copy(update={"retention_days": 90})
    with TestClient(create_app(longer, web_assistant)) as c:
        body = c.get("/api/privacy").json()
    assert body["retention_days"] == 90 and all(item["kept_days"] == 90 for item in body["stored"])


def test_raw_question_is_not_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answer = client.post("/api/chat", json={"message": f"Mit CPR er {CPR}, hvad nu?"}).json()
    client.post("/api/feedback", json={"answer_id": answer["id"], "helpful": True, "comment": f"mail {EMAIL}"})
    assert CPR not in caplog.text and EMAIL not in caplog.text
    assert answer["id"] in caplog.text  # the service does log (ids only)


def test_healthz_and_docs(live_server: Any) -> None:
    r = httpx.get(f"{live_server.url}/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok", "assistant": "ready"}
    assert httpx.get(f"{live_server.url}/docs", timeout=10).status_code == 200
    spec = httpx.get(f"{live_server.url}/openapi.json", timeout=10).json()
    for path in ("/api/chat", "/api/chat/stream", "/api/municipalities", "/api/feedback", "/healthz"):
        assert path in spec["paths"]


def test_page_and_static_files(live_server: Any) -> None:
    r = httpx.get(f"{live_server.url}/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="question"' in r.text and "/static/app.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    for name in ("app.js", "i18n.js", "style.css"):
        assert httpx.get(f"{live_server.url}/static/{name}", timeout=10).status_code == 200
    assert httpx.get(f"{live_server.url}/static/../assistant/config.py", timeout=10).status_code == 404


# --------------------------------------------------------------------------- failures


class BrokenAssistant:
    def answer(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict] | None = None,
        page_language: str | None = None,
    ) -> Answer:
        raise RuntimeError(f"index exploded while reading {question!r}")


def test_assistant_failure_is_503_without_trace(web_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(web_settings, BrokenAssistant())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/api/chat", "/api/chat/stream"):
            r = c.post(path, json={"message": f"Hjælp, CPR {CPR}"})
            assert r.status_code == 503, r.text
            assert "unavailable" in r.json()["detail"]
            assert "exploded" not in r.text and "Traceback" not in r.text
    assert CPR not in caplog.text


def _wait_for(client: TestClient, path: str, status: int, timeout_s: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_assistant_that_cannot_load_gives_503(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.serve as serve

    def _fail(_settings: Settings) -> None:
        raise FileNotFoundError("no index")

    monkeypatch.setattr(serve, "Assistant", _fail)
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app, raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 30
        while c.get("/readyz").json()["status"] != "error" and time.monotonic() < deadline:
            time.sleep(0.05)
        r = c.post("/api/chat", json={"message": QUESTION})
        assert r.status_code == 503 and "unavailable" in r.json()["detail"]
        assert int(r.headers["retry-after"]) > 0
        health = c.get("/healthz")
        assert health.status_code == 503 and health.json() == {"status": "unavailable", "assistant": "error"}
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "error"
        assert "FileNotFoundError" in ready.json()["detail"] and "no index" not in ready.json()["detail"]


def test_app_builds_its_own_assistant(web_settings: Settings, web_assistant: Assistant) -> None:
    """create_app(settings) without an assistant loads one in the background (needs the fixture's index)."""
    with TestClient(create_app(web_settings)) as c:
        assert _wait_for(c, "/readyz", 200).status_code == 200
        r = c.post("/api/chat", json={"message": QUESTION})
        assert r.status_code == 200, r.text
        assert c.get("/healthz").json() == {"status": "ok", "assistant": "ready"}


# --------------------------------------------------------------------------- privacy and contract (issue 10)


def test_privacy_endpoint_states_what_is_stored_and_for_how_long(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path, retention_days=14)
    with TestClient(create_app(settings, BrokenAssistant()), raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        r = c.get("/api/privacy")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["retention_days"] == 14
    assert body["stored"] and all(item["kept_days"] == 14 for item in body["stored"])
    assert any("ID numbers" in item for item in body["never_stored"])


def test_stored_questions_and_feedback_are_deleted_after_the_retention_period(tmp_path: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    store = FeedbackStore(tmp_path / "care.sqlite3")
    old, new = (Answer(id=i, question=f"question {i}", status="answered", language="da", answer="a") for i in "on")
    store.record_answer(old, None)
    store.record_answer(new, None)
    store.add_feedback("o", True, "old comment")
    store.add_feedback("n", False, "new comment")
    with store.engine.begin() as conn:  # age the first answer and its feedback by 40 days
        stamp = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="seconds")
        conn.execute(text("UPDATE answers SET created_at = :s WHERE id = 'o'"), {"s": stamp})
        conn.execute(text("UPDATE feedback SET created_at = :s WHERE answer_id = 'o'"), {"s": stamp})
    # The service purges at start-up.
    with TestClient(create_app(Settings(data_dir=tmp_path), BrokenAssistant())):  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while store.has_answer("o") and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not store.has_answer("o") and store.has_answer("n")
    assert [row["answer_id"] for row in store.feedback()] == ["n"]
    blob = (tmp_path / "care.sqlite3").read_bytes()
    assert b"old comment" not in blob and b"question o" not in blob  # overwritten, not just unlinked
    assert store.purge(30, now=datetime.now(UTC) + timedelta(days=31)) == {"answers": 1, "feedback": 1}


def test_every_error_response_is_documented_with_a_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        ("/api/chat", "post"): {"400", "408", "413", "415", "422", "429", "503"},
        ("/api/chat/stream", "post"): {"400", "408", "413", "415", "422", "429", "503"},
        ("/api/feedback", "post"): {"400", "404", "408", "409", "413", "415", "422", "429"},
        ("/api/municipalities", "get"): {"503"},
        ("/healthz", "get"): {"503"},
        ("/readyz", "get"): {"503"},
    }
    for (path, method), codes in expected.items():
        responses = spec["paths"][path][method]["responses"]
        assert codes <= set(responses), (path, codes - set(responses))
        for code in codes:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert "$ref" in schema, (path, code)
    assert "/api/privacy" in spec["paths"]


def test_the_form_without_javascript_posts_and_gets_an_answer_page(client: TestClient) -> None:
    page = client.get("/").text
    form = re.search(r"<form[^>]*id=\"ask-form\"[^>]*>", page)
    assert form and 'method="post"' in form.group(0) and 'action="/"' in form.group(0)
    r = client.post("/", data={"question": f"Min mor har CPR {CPR}. {QUESTION}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert CPR not in r.text and "[cpr]" in r.text
    assert "<script" not in r.text and r.headers["cache-control"] == "no-store"
    assert 'href="/"' in r.text
    empty = client.post("/", data={"question": "  "})
    assert empty.status_code == 422 and "empty" in empty.text


def test_an_older_database_gains_the_new_columns(tmp_path: Any) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema before answers kept their text and feedback a reason
        conn.executescript(
            "CREATE TABLE answers (id TEXT PRIMARY KEY, question TEXT NOT NULL, status TEXT NOT NULL,"
            " language TEXT NOT NULL, municipality TEXT, pii_detected INTEGER NOT NULL DEFAULT 0,"
            " latency_ms REAL NOT NULL DEFAULT 0, created_at TEXT NOT NULL);"
            "CREATE TABLE feedback (id TEXT PRIMARY KEY, answer_id TEXT NOT NULL REFERENCES answers(id),"
            " helpful INTEGER NOT NULL, comment TEXT, created_at TEXT NOT NULL);"
            "INSERT INTO answers VALUES ('old', 'Hvad er hjemmehjælp?', 'answered', 'da', NULL, 0, 1.0, '2024-01-01');"
        )
    store = FeedbackStore(path)
    store.add_feedback("old", False, None, "other")
    old = store.feedback()[0]
    assert old["question"] == "Hvad er hjemmehjælp?" and old["answer"] is None and old["reason"] == "other"
    store.record_answer(Answer(id="new", question="Q", status="answered", language="da", answer="A [1]"), None)
    assert next(r for r in store.answers() if r["id"] == "new")["status"] == "answered"
    with pytest.raises(ValueError):
        store.add_feedback("new", False, None, "too_slow")
