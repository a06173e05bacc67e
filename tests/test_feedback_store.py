"""FeedbackStore on both engines it supports: the embedded SQLite file and a real PostgreSQL server.

Every test here runs twice: once on a SQLite file in a temp dir, once on a fresh database in
the PostgreSQL cluster ``tests/conftest_services.py`` starts on loopback.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assistant.config import Settings
from assistant.contract import Answer
from assistant.feedback import DuplicateFeedbackError, FeedbackStore, UnknownAnswerError

pytest_plugins = ["tests.conftest_services"]

CPR = "010203-1234"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        target: Path | str = tmp_path / "care.sqlite3"
    else:
        target = request.getfixturevalue("postgres").create_database()
    store = FeedbackStore(target)
    yield store
    store.close()


def _answer(answer_id: str, status: str = "answered", question: str = "Hvad koster hjemmehjælp?") -> Answer:
    return Answer(id=answer_id, question=question, status=status, language="da", answer=f"answer {answer_id}")


def test_the_engine_is_the_one_asked_for(store: FeedbackStore) -> None:
    assert store.engine.dialect.name in {"sqlite", "postgresql"}
    assert (store.path is not None) == (store.engine.dialect.name == "sqlite")


def test_answers_are_recorded_redacted_and_listed_newest_first(store: FeedbackStore) -> None:
    for n in range(5):  # within one second: insertion order decides
        store.record_answer(_answer(f"a{n}", "not_found" if n % 2 else "answered"), "Aarhus Kommune")
    store.record_answer(_answer("cpr", question=f"Mit CPR er {CPR}"), None)
    rows = store.answers()
    assert [r["id"] for r in rows] == ["cpr", "a4", "a3", "a2", "a1", "a0"]
    assert rows[1]["municipality"] == "Aarhus Kommune" and rows[1]["pii_detected"] is False
    assert CPR not in rows[0]["question"] and "[cpr]" in rows[0]["question"]
    assert [r["id"] for r in store.answers(status="not_found")] == ["a3", "a1"]
    assert [r["id"] for r in store.gaps()] == ["a3", "a1"]
    assert store.has_answer("a0") and not store.has_answer("nope")


def test_recording_an_answer_again_replaces_it_and_keeps_its_feedback(store: FeedbackStore) -> None:
    store.record_answer(_answer("x"), None)
    store.add_feedback("x", True)
    store.record_answer(_answer("x", "referred"), "Malmö stad")
    assert [(r["id"], r["status"]) for r in store.answers()] == [("x", "referred")]
    assert [r["status"] for r in store.feedback()] == ["referred"]


def test_feedback_one_per_answer_with_reason_and_redacted_comment(store: FeedbackStore) -> None:
    store.record_answer(_answer("a"), None)
    store.record_answer(_answer("b"), None)
    with pytest.raises(UnknownAnswerError):
        store.add_feedback("never-recorded", True)
    with pytest.raises(ValueError):
        store.add_feedback("a", False, None, "too_slow")
    first = store.add_feedback("a", False, f"Ring til mig, CPR {CPR}", "did_not_answer")
    with pytest.raises(DuplicateFeedbackError):
        store.add_feedback("a", True)
    store.add_feedback("b", True, "  ")
    rows = store.feedback()
    assert [r["answer_id"] for r in rows] == ["b", "a"]
    down = store.feedback(helpful=False)
    assert [r["id"] for r in down] == [first] and down[0]["helpful"] is False
    assert down[0]["reason"] == "did_not_answer" and CPR not in down[0]["comment"]
    assert down[0]["answer"] == "answer a" and down[0]["question"] == "Hvad koster hjemmehjælp?"
    assert store.feedback(helpful=True)[0]["comment"] is None


def test_two_workers_giving_feedback_on_one_answer_at_once_store_one(store: FeedbackStore) -> None:
    store.record_answer(_answer("race"), None)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def give() -> None:
        barrier.wait()
        try:
            store.add_feedback("race", True)
            outcomes.append("stored")
        except DuplicateFeedbackError:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=give) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate"] * 5 + ["stored"]
    assert len(store.feedback()) == 1


def test_purge_deletes_what_is_older_than_the_retention_period(store: FeedbackStore) -> None:
    for answer_id in ("old", "new", "late"):
        store.record_answer(_answer(answer_id), None)
    store.add_feedback("old", True, "old comment")
    store.add_feedback("late", False, "late comment")
    stamp = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="seconds")
    with store.engine.begin() as conn:  # age one answer with its feedback, and one feedback alone
        conn.execute(text("UPDATE answers SET created_at = :s WHERE id = 'old'"), {"s": stamp})
        conn.execute(text("UPDATE feedback SET created_at = :s WHERE answer_id IN ('old', 'late')"), {"s": stamp})
    assert store.purge(30) == {"answers": 1, "feedback": 2}
    assert {r["id"] for r in store.answers()} == {"new", "late"} and store.feedback() == []
    assert store.purge(30, now=datetime.now(UTC) + timedelta(days=31)) == {"answers": 2, "feedback": 0}


def test_eval_runs_keep_metrics_and_settings_oldest_first(store: FeedbackStore) -> None:
    first = store.record_eval_run("project", {"hit@5": 0.97}, {"top_k": 5})
    second = store.record_eval_run("project", {"hit@5": 0.98}, {"top_k": 6, "path": Path("/x")})
    store.record_eval_run("other", {"hit@5": 0.5}, {})
    runs = store.eval_runs("project")
    assert [r["id"] for r in runs] == [first, second]
    assert runs[1]["metrics"] == {"hit@5": 0.98} and runs[1]["settings"] == {"top_k": 6, "path": "/x"}
    assert len(store.eval_runs()) == 3


def test_a_second_store_on_the_same_database_sees_everything(store: FeedbackStore) -> None:
    """Two workers each open their own store on one database (re-opening also re-runs the upgrade)."""
    store.record_answer(_answer("shared"), None)
    other = FeedbackStore(store.path if store.path is not None else store.url)
    try:
        other.add_feedback("shared", False, None, "other")
        assert store.feedback()[0]["reason"] == "other"
        with pytest.raises(DuplicateFeedbackError):
            store.add_feedback("shared", True)
    finally:
        other.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_workers_starting_together_on_an_empty_database_all_open_it(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if engine == "sqlite":
        target: Path | str = tmp_path / "fresh.sqlite3"
    else:
        target = request.getfixturevalue("postgres").create_database()
    barrier = threading.Barrier(4)
    opened: list[FeedbackStore] = []
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            opened.append(FeedbackStore(target))
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(opened) == 4
    opened[0].record_answer(_answer("first"), None)
    assert all(store.has_answer("first") for store in opened)
    for store in opened:
        store.close()


def test_settings_choose_the_database() -> None:
    assert Settings(data_dir=Path("/tmp/x")).database == Path("/tmp/x/care.sqlite3")
    url = "postgresql+psycopg://care:secret@db:5432/care"
    configured = Settings(database_url=url)
    assert configured.database == url and "secret" not in repr(configured)
