"""What citizens asked and what they thought of the answers, in SQLite or PostgreSQL.

Staff use this to find gaps (questions answered ``not_found``) and answers
people found unhelpful; the staff console also keeps its eval runs here (metrics
only, never the questions), so it can plot them over time. Nothing personal is stored: questions arrive already
redacted by the assistant and are redacted once more here, and feedback
comments are redacted before they touch the database.

The database is reached through SQLAlchemy (Core, not the ORM: a handful of
plain tables), so one code path serves the embedded default, a SQLite file under
``data/``, and a PostgreSQL server shared by many workers and machines
(``CARE_DATABASE_URL=postgresql+psycopg://...``). The engine's connection pool
is shared by the threads of a web server.

Retention: :meth:`FeedbackStore.purge` deletes questions and feedback older than
``CARE_RETENTION_DAYS`` (the service runs it at start-up and daily). An answer
takes at most one feedback (:class:`DuplicateFeedbackError`), enforced by a unique
index, so two workers recording feedback on the same answer at once cannot both succeed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from assistant.contract import Answer
from assistant.privacy import redact

# Columns added after the first release; an older database gains them when it is opened.
_ADDED_COLUMNS = {
    "answers": {"answer": "TEXT"},  # the answer text as the citizen saw it (built from the redacted question)
    "feedback": {"reason": "TEXT"},  # one of FEEDBACK_REASONS, or NULL
}
FEEDBACK_REASONS = ("did_not_answer", "wrong_municipality", "hard_to_understand", "other")
_ONE_FEEDBACK = "feedback_one_per_answer"
_SCHEMA_LOCK = 0x0CA2E_5C4E  # PostgreSQL advisory lock key: one schema upgrade at a time


def _tables(is_sqlite: bool) -> tuple[MetaData, Table, Table, Table]:
    """The schema. Times are ISO 8601 text (UTC), as the first SQLite release stored them.

    Listings are newest first with insertion order breaking ties within a second: SQLite has
    its implicit ``rowid`` (and older files cannot gain a new auto-numbered column), so only
    the other engines get an explicit ``seq`` identity column.
    """
    metadata = MetaData()

    def seq() -> list[Column[Any]]:
        return [] if is_sqlite else [Column("seq", BigInteger, Identity(), nullable=False, unique=True)]

    answers = Table(
        "answers",
        metadata,
        Column("id", Text, primary_key=True),
        Column("question", Text, nullable=False),
        Column("status", Text, nullable=False),
        Column("language", Text, nullable=False),
        Column("municipality", Text),
        Column("pii_detected", Integer, nullable=False, server_default=text("0")),
        Column("latency_ms", Float, nullable=False, server_default=text("0")),
        Column("created_at", Text, nullable=False),
        Column("answer", Text),
        *seq(),
        Index("answers_status", "status"),
        Index("answers_created", "created_at"),
    )
    feedback = Table(
        "feedback",
        metadata,
        Column("id", Text, primary_key=True),
        Column("answer_id", Text, ForeignKey("answers.id"), nullable=False),
        Column("helpful", Integer, nullable=False),
        Column("comment", Text),
        Column("created_at", Text, nullable=False),
        Column("reason", Text),
        *seq(),
        Index("feedback_answer", "answer_id"),
        Index(_ONE_FEEDBACK, "answer_id", unique=True),
    )
    eval_runs = Table(
        "eval_runs",
        metadata,
        Column("id", Text, primary_key=True),
        Column("dataset", Text, nullable=False),
        Column("settings", Text, nullable=False),
        Column("metrics", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        *seq(),
    )
    return metadata, answers, feedback, eval_runs


class UnknownAnswerError(LookupError):
    """Feedback names an answer this store never recorded."""


class DuplicateFeedbackError(ValueError):
    """This answer already has its feedback."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _clean(value: str | None) -> str | None:
    """Redact personal data; empty or whitespace-only text becomes None."""
    if value is None or not value.strip():
        return None
    redacted, _matches = redact(value.strip())
    return redacted


def database_url(target: Path | str) -> str:
    """A SQLAlchemy URL: a URL is kept, a path becomes the SQLite file there."""
    if isinstance(target, str) and "://" in target:
        return target
    return f"sqlite:///{Path(target)}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # Deleted rows are overwritten, so removed text does not linger in the file.
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


class FeedbackStore:
    """Answered questions and feedback on them, in a SQLite file or a PostgreSQL database.

    Args:
        target: a SQLite file's path (the embedded default, ``data/care.sqlite3``) or a
            SQLAlchemy URL such as ``postgresql+psycopg://care@db:5432/care``.
    """

    def __init__(self, target: Path | str) -> None:
        self.url = database_url(target)
        self.path: Path | None = None
        if self.url.startswith("sqlite"):
            self.path = Path(target)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, connect_args={"timeout": 10.0})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # pool_pre_ping: a worker outlives a database restart without failing its next request.
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._metadata, self._answers, self._feedback, self._eval_runs = _tables(self._sqlite)
        self._record_answer = self._answer_upsert()
        self._upgrade()

    def close(self) -> None:
        """Close the pooled connections (a store is otherwise kept for the life of the process)."""
        self.engine.dispose()

    def _upgrade(self) -> None:
        """Create what is missing; an older database gains the columns and the unique index added since.

        Workers start together, and ``create_all`` checks then creates: on PostgreSQL the
        transaction holds an advisory lock so one worker creates and the others wait; on
        SQLite a worker that lost the race finds the tables when it tries again.
        """
        for attempt in range(3):
            try:
                self._upgrade_once()
                return
            except DBAPIError:
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _upgrade_once(self) -> None:
        with self._connect() as conn:
            if not self._sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            self._metadata.create_all(conn, checkfirst=True)
            inspector = inspect(conn)
            for table, columns in _ADDED_COLUMNS.items():
                present = {column["name"] for column in inspector.get_columns(table)}
                for name, kind in columns.items():
                    if name not in present:  # names and types come from this module, never from input
                        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
            if _ONE_FEEDBACK not in {index["name"] for index in inspector.get_indexes("feedback")}:
                # One feedback per answer. Older databases may hold several: the first is kept.
                conn.execute(
                    text(
                        f"DELETE FROM feedback WHERE {self._order_key} NOT IN"
                        f" (SELECT MIN({self._order_key}) FROM feedback GROUP BY answer_id)"
                    )
                )
                conn.execute(text(f"CREATE UNIQUE INDEX {_ONE_FEEDBACK} ON feedback(answer_id)"))

    @property
    def _order_key(self) -> str:
        return "rowid" if self._sqlite else "seq"

    def _order(self, table: Table) -> ColumnElement[Any]:
        return literal_column(f"{table.name}.rowid") if self._sqlite else table.c.seq

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    def _answer_upsert(self) -> Any:
        """The statement that stores an answer (a repeated id updates it), built once: building
        it per answer cost 6 ms of CPU, a tenth of an answer (measured under load)."""
        insert = (sqlite.insert if self._sqlite else postgresql.insert)(self._answers)
        updated = [c.name for c in self._answers.columns if c.name not in ("id", "seq")]
        return insert.on_conflict_do_update(index_elements=["id"], set_={k: insert.excluded[k] for k in updated})

    def record_answer(self, answer: Answer, municipality: str | None) -> None:
        """Store one answered question: its redacted text, the answer the citizen saw, and the outcome.

        The answer is built from the redacted question, so it holds no personal data either.
        """
        row = {
            "id": answer.id,
            "question": _clean(answer.question) or "",
            "status": answer.status,
            "language": answer.language,
            "municipality": municipality,
            "pii_detected": int(answer.pii_detected),
            "latency_ms": float(answer.latency_ms),
            "created_at": _now(),
            "answer": answer.answer,
        }
        with self._connect() as conn:
            conn.execute(self._record_answer, row)

    def has_answer(self, answer_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute(select(self._answers.c.id).where(self._answers.c.id == answer_id)).first()
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
        try:
            with self._connect() as conn:
                if conn.execute(select(self._answers.c.id).where(self._answers.c.id == answer_id)).first() is None:
                    raise UnknownAnswerError(answer_id)
                conn.execute(
                    self._feedback.insert().values(
                        id=feedback_id,
                        answer_id=answer_id,
                        helpful=int(bool(helpful)),
                        comment=cleaned,
                        created_at=_now(),
                        reason=reason,
                    )
                )
        except IntegrityError as exc:
            # The unique index: the answer already has its feedback. (Or the answer was purged
            # between the check and the insert: then it is as unknown as if never recorded.)
            if self.has_answer(answer_id):
                raise DuplicateFeedbackError(answer_id) from exc
            raise UnknownAnswerError(answer_id) from exc
        return feedback_id

    def purge(self, older_than_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete questions and feedback stored more than ``older_than_days`` ago; return the counts.

        Feedback goes with its answer, and feedback older than the limit on a newer
        answer goes too. On SQLite deleted rows are overwritten (``secure_delete``);
        on PostgreSQL the space of deleted rows is reused after (auto)vacuum.
        """
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=older_than_days)).isoformat(timespec="seconds")
        answers, feedback = self._answers, self._feedback
        old_answers = select(answers.c.id).where(answers.c.created_at < cutoff)
        with self._connect() as conn:
            deleted_feedback = conn.execute(
                feedback.delete().where((feedback.c.created_at < cutoff) | feedback.c.answer_id.in_(old_answers))
            ).rowcount
            deleted_answers = conn.execute(answers.delete().where(answers.c.created_at < cutoff)).rowcount
        return {"answers": deleted_answers, "feedback": deleted_feedback}

    def feedback(self, helpful: bool | None = None) -> list[dict[str, Any]]:
        """Feedback, newest first, with the question, the answer the citizen saw and its outcome."""
        f, a = self._feedback, self._answers
        query = select(
            f.c.id, f.c.answer_id, f.c.helpful, f.c.reason, f.c.comment, f.c.created_at,
            a.c.question, a.c.answer, a.c.status, a.c.language, a.c.municipality,
        ).join_from(f, a, a.c.id == f.c.answer_id)  # fmt: skip
        if helpful is not None:
            query = query.where(f.c.helpful == int(helpful))
        rows = self._rows(query.order_by(f.c.created_at.desc(), self._order(f).desc()))
        return [{**row, "helpful": bool(row["helpful"])} for row in rows]

    def answers(self, status: str | None = None) -> list[dict[str, Any]]:
        """Recorded questions, newest first; ``status='not_found'`` lists the gaps."""
        a = self._answers
        query = select(
            a.c.id, a.c.question, a.c.status, a.c.language, a.c.municipality, a.c.pii_detected, a.c.latency_ms,
            a.c.created_at,
        )  # fmt: skip
        if status is not None:
            query = query.where(a.c.status == status)
        rows = self._rows(query.order_by(a.c.created_at.desc(), self._order(a).desc()))
        return [{**row, "pii_detected": bool(row["pii_detected"])} for row in rows]

    def gaps(self, limit: int = 2000) -> list[dict[str, Any]]:
        """The newest questions the plans did not answer: ``not_found``, or ``referred`` to the
        municipality as one person's case (prices, waiting times...), already redacted."""
        a = self._answers
        query = (
            select(a.c.id, a.c.question, a.c.status, a.c.language, a.c.municipality, a.c.created_at)
            .where(a.c.status.in_(("not_found", "referred")), a.c.question != "")
            .order_by(a.c.created_at.desc(), self._order(a).desc())
            .limit(int(limit))
        )
        return self._rows(query)

    def record_eval_run(self, dataset: str, metrics: dict[str, Any], settings: dict[str, Any]) -> str:
        """Keep one eval run's metrics (and the settings it ran with); return its id."""
        run_id = uuid.uuid4().hex
        with self._connect() as conn:
            conn.execute(
                self._eval_runs.insert().values(
                    id=run_id,
                    dataset=dataset,
                    settings=json.dumps(settings, default=str),
                    metrics=json.dumps(metrics, default=str),
                    created_at=_now(),
                )
            )
        return run_id

    def eval_runs(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Eval runs, oldest first, each ``{id, dataset, settings, metrics, created_at}``."""
        e = self._eval_runs
        query = select(e.c.id, e.c.dataset, e.c.settings, e.c.metrics, e.c.created_at)
        if dataset is not None:
            query = query.where(e.c.dataset == dataset)
        rows = self._rows(query.order_by(e.c.created_at, self._order(e)))
        return [{**row, "settings": json.loads(row["settings"]), "metrics": json.loads(row["metrics"])} for row in rows]

    def _rows(self, query: Any) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
