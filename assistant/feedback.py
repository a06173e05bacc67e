"""What citizens asked and what they thought of the answers, in SQLite.

Staff use this to find gaps (questions answered ``not_found``) and answers
people found unhelpful; the staff console also keeps its eval runs here (metrics
only, never the questions), so it can plot them over time. Nothing personal is stored: questions arrive already
redacted by the assistant and are redacted once more here, and feedback
comments are redacted before they touch the database.

Each call opens its own connection, so one ``FeedbackStore`` can be shared by
the threads of a web server.

Retention: :meth:`FeedbackStore.purge` deletes questions and feedback older than
``CARE_RETENTION_DAYS`` (the service runs it at start-up and daily). An answer
takes at most one feedback (:class:`DuplicateFeedbackError`).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.contract import Answer
from assistant.privacy import redact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id           TEXT PRIMARY KEY,
    question     TEXT NOT NULL,
    status       TEXT NOT NULL,
    language     TEXT NOT NULL,
    municipality TEXT,
    pii_detected INTEGER NOT NULL DEFAULT 0,
    latency_ms   REAL NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_status ON answers(status);
CREATE TABLE IF NOT EXISTS feedback (
    id         TEXT PRIMARY KEY,
    answer_id  TEXT NOT NULL REFERENCES answers(id),
    helpful    INTEGER NOT NULL,
    comment    TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
CREATE INDEX IF NOT EXISTS answers_created ON answers(created_at);
CREATE TABLE IF NOT EXISTS eval_runs (
    id         TEXT PRIMARY KEY,
    dataset    TEXT NOT NULL,
    settings   TEXT NOT NULL,
    metrics    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


# One feedback per answer. Older databases may hold several: the first is kept.
_ONE_FEEDBACK_PER_ANSWER = """
DELETE FROM feedback WHERE rowid NOT IN (SELECT MIN(rowid) FROM feedback GROUP BY answer_id);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_one_per_answer ON feedback(answer_id);
"""

# Columns added after the first release; an older database gains them when it is opened.
_ADDED_COLUMNS = {
    "answers": {"answer": "TEXT"},  # the answer text as the citizen saw it (built from the redacted question)
    "feedback": {"reason": "TEXT"},  # one of FEEDBACK_REASONS, or NULL
}
FEEDBACK_REASONS = ("did_not_answer", "wrong_municipality", "hard_to_understand", "other")


class UnknownAnswerError(LookupError):
    """Feedback names an answer this store never recorded."""


class DuplicateFeedbackError(ValueError):
    """This answer already has its feedback."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _clean(text: str | None) -> str | None:
    """Redact personal data; empty or whitespace-only text becomes None."""
    if text is None or not text.strip():
        return None
    redacted, _matches = redact(text.strip())
    return redacted


class FeedbackStore:
    """Answered questions and feedback on them, in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            for table, columns in _ADDED_COLUMNS.items():
                present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns.items():
                    if name not in present:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'feedback_one_per_answer'"
            ).fetchone():
                conn.executescript(_ONE_FEEDBACK_PER_ANSWER)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten, so removed text does not linger in the file.
        conn.execute("PRAGMA secure_delete = ON")
        try:
            with conn:  # commit on success, roll back on error
                yield conn
        finally:
            conn.close()

    def record_answer(self, answer: Answer, municipality: str | None) -> None:
        """Store one answered question: its redacted text, the answer the citizen saw, and the outcome.

        The answer is built from the redacted question, so it holds no personal data either.
        """
        question = _clean(answer.question) or ""
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO answers"
                " (id, question, status, language, municipality, pii_detected, latency_ms, created_at, answer)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer.id,
                    question,
                    answer.status,
                    answer.language,
                    municipality,
                    int(answer.pii_detected),
                    float(answer.latency_ms),
                    _now(),
                    answer.answer,
                ),
            )

    def has_answer(self, answer_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return row is not None

    def add_feedback(self, answer_id: str, helpful: bool, comment: str | None = None, reason: str | None = None) -> str:
        """Store a thumbs up/down with an optional reason and comment (redacted); return its id.

        Raises:
            UnknownAnswerError: ``answer_id`` was never recorded (or has been deleted).
            DuplicateFeedbackError: the answer already has feedback.
            ValueError: ``reason`` is not one of ``FEEDBACK_REASONS``.
        """
        if reason is not None and reason not in FEEDBACK_REASONS:
            raise ValueError(f"reason must be one of {FEEDBACK_REASONS}")
        feedback_id = uuid.uuid4().hex
        cleaned = _clean(comment)
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise UnknownAnswerError(answer_id)
            try:
                conn.execute(
                    "INSERT INTO feedback (id, answer_id, helpful, comment, created_at, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (feedback_id, answer_id, int(bool(helpful)), cleaned, _now(), reason),
                )
            except sqlite3.IntegrityError as exc:  # the unique index: the answer already has its feedback
                raise DuplicateFeedbackError(answer_id) from exc
        return feedback_id

    def purge(self, older_than_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete questions and feedback stored more than ``older_than_days`` ago; return the counts.

        Feedback goes with its answer, and feedback older than the limit on a newer
        answer goes too. Deleted rows are overwritten (``secure_delete``).
        """
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=older_than_days)).isoformat(timespec="seconds")
        with self._connect() as conn:
            feedback = conn.execute(
                "DELETE FROM feedback WHERE created_at < ?"
                " OR answer_id IN (SELECT id FROM answers WHERE created_at < ?)",
                (cutoff, cutoff),
            ).rowcount
            answers = conn.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,)).rowcount
        return {"answers": answers, "feedback": feedback}

    def _select(self, sql: str, column: str, value: Any, order_by: str) -> list[sqlite3.Row]:
        """Run a listing query, filtered on one column when a value is given."""
        params: tuple[Any, ...] = ()
        if value is not None:
            sql += f" WHERE {column} = ?"  # column names come from this class, never from input
            params = (value,)
        with self._connect() as conn:
            return list(conn.execute(f"{sql} ORDER BY {order_by}", params).fetchall())

    def feedback(self, helpful: bool | None = None) -> list[dict[str, Any]]:
        """Feedback, newest first, with the question, the answer the citizen saw and its outcome."""
        sql = (
            "SELECT f.id, f.answer_id, f.helpful, f.reason, f.comment, f.created_at,"
            " a.question, a.answer, a.status, a.language, a.municipality"
            " FROM feedback f JOIN answers a ON a.id = f.answer_id"
        )
        value = None if helpful is None else int(helpful)
        rows = self._select(sql, "f.helpful", value, "f.created_at DESC, f.rowid DESC")
        return [{**dict(row), "helpful": bool(row["helpful"])} for row in rows]

    def answers(self, status: str | None = None) -> list[dict[str, Any]]:
        """Recorded questions, newest first; ``status='not_found'`` lists the gaps."""
        sql = "SELECT id, question, status, language, municipality, pii_detected, latency_ms, created_at FROM answers"
        rows = self._select(sql, "status", status, "created_at DESC, rowid DESC")
        return [{**dict(row), "pii_detected": bool(row["pii_detected"])} for row in rows]

    def gaps(self, limit: int = 2000) -> list[dict[str, Any]]:
        """The newest questions the plans did not answer: ``not_found``, or ``referred`` to the
        municipality as one person's case (prices, waiting times...), already redacted."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, question, status, language, municipality, created_at FROM answers"
                " WHERE status IN ('not_found', 'referred') AND question != ''"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [dict(row) for row in rows]

    def record_eval_run(self, dataset: str, metrics: dict[str, Any], settings: dict[str, Any]) -> str:
        """Keep one eval run's metrics (and the settings it ran with); return its id."""
        run_id = uuid.uuid4().hex
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO eval_runs (id, dataset, settings, metrics, created_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, dataset, json.dumps(settings, default=str), json.dumps(metrics, default=str), _now()),
            )
        return run_id

    def eval_runs(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Eval runs, oldest first, each ``{id, dataset, settings, metrics, created_at}``."""
        sql = "SELECT id, dataset, settings, metrics, created_at FROM eval_runs"
        rows = self._select(sql, "dataset", dataset, "created_at, rowid")
        return [
            {**dict(row), "settings": json.loads(row["settings"]), "metrics": json.loads(row["metrics"])}
            for row in rows
        ]
